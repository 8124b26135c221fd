"""Public marker gene sets, ready to be proxies of :class:`coclust_deep.deep.MultiSub` concepts.

* :data:`S_GENES`, :data:`G2M_GENES`: the S and G2/M phase genes of Tirosh et
  al. (Science 2016), the lists ``scanpy.tl.score_genes_cell_cycle``
  documents (``regev_lab_cell_cycle_genes.txt``: 43 S, then 54 G2/M genes).
* :data:`PBMC_MARKERS`: canonical markers of the main blood cell types, from
  the Seurat PBMC 3k tutorial table (IL7R, CCR7, LYZ, MS4A1, CD8A, FCGR3A,
  GNLY, NKG7, FCER1A, CST3) and the marker lists of the Azimuth human PBMC
  reference (Hao et al., Cell 2021), restricted to genes that many
  highly-variable-gene selections keep.
* :data:`PBMC3K_TUTORIAL_MARKERS`: the Seurat PBMC 3k tutorial table alone.

:func:`present` keeps the genes of each set found in a list of gene names and
drops sets left empty, saying what it dropped.

Examples
--------
>>> from coclust_deep.markers import G2M_GENES, S_GENES, present
>>> len(S_GENES), len(G2M_GENES)
(43, 54)
>>> present({"S": S_GENES, "G2M": G2M_GENES}, ["PCNA", "HMGB2", "CD3D"])
{'S': ['PCNA'], 'G2M': ['HMGB2']}
"""
from __future__ import annotations

import warnings

S_GENES = [
    "MCM5", "PCNA", "TYMS", "FEN1", "MCM2", "MCM4", "RRM1", "UNG", "GINS2", "MCM6", "CDCA7", "DTL", "PRIM1",
    "UHRF1", "MLF1IP", "HELLS", "RFC2", "RPA2", "NASP", "RAD51AP1", "GMNN", "WDR76", "SLBP", "CCNE2", "UBR7",
    "POLD3", "MSH2", "ATAD2", "RAD51", "RRM2", "CDC45", "CDC6", "EXO1", "TIPIN", "DSCC1", "BLM", "CASP8AP2",
    "USP1", "CLSPN", "POLA1", "CHAF1B", "BRIP1", "E2F8",
]
G2M_GENES = [
    "HMGB2", "CDK1", "NUSAP1", "UBE2C", "BIRC5", "TPX2", "TOP2A", "NDC80", "CKS2", "NUF2", "CKS1B", "MKI67",
    "TMPO", "CENPF", "TACC3", "FAM64A", "SMC4", "CCNB2", "CKAP2L", "CKAP2", "AURKB", "BUB1", "KIF11", "ANP32E",
    "TUBB4B", "GTSE1", "KIF20B", "HJURP", "CDCA3", "HN1", "CDC20", "TTK", "CDC25C", "KIF2C", "RANGAP1", "NCAPD2",
    "DLGAP5", "CDCA2", "CDCA8", "ECT2", "KIF23", "HMMR", "AURKA", "PSRC1", "ANLN", "LBR", "CKAP5", "CENPE",
    "CTCF", "NEK2", "G2E3", "GAS2L3", "CBX5", "CENPA",
]

PBMC_MARKERS = {
    "CD4 T": ["IL7R", "CCR7", "LDHB", "MAL"],
    "CD8 T": ["CD8A", "CD8B"],
    "NK": ["GNLY", "NKG7", "PRF1", "GZMB", "FGFBP2", "SPON2"],
    "B": ["MS4A1", "CD79A", "CD79B", "BANK1"],
    "CD14 Mono": ["LYZ", "S100A8", "S100A9", "FCN1"],
    "CD16 Mono": ["FCGR3A", "LST1", "AIF1", "IFITM3"],
    "DC": ["FCER1A", "CLEC10A", "CST3"],
    "HSPC": ["SPINK2", "PRSS57", "GATA2"],
}

PBMC3K_TUTORIAL_MARKERS = {
    "Naive CD4+ T": ["IL7R", "CCR7"],
    "Memory CD4+ T": ["IL7R", "S100A4"],
    "CD14+ Mono": ["CD14", "LYZ"],
    "B": ["MS4A1"],
    "CD8+ T": ["CD8A"],
    "FCGR3A+ Mono": ["FCGR3A", "MS4A7"],
    "NK": ["GNLY", "NKG7"],
    "DC": ["FCER1A", "CST3"],
    "Platelet": ["PPBP"],
}


def present(gene_sets, gene_names):
    """``gene_sets`` restricted to ``gene_names``; sets left empty are dropped with a warning.

    Parameters
    ----------
    gene_sets : dict of str to list of str
        Named gene sets, e.g. ``{"S": S_GENES, "G2M": G2M_GENES}`` or :data:`PBMC_MARKERS`.
    gene_names : iterable
        The genes available (e.g. ``adata.var_names``), compared as strings.

    Returns
    -------
    dict of str to list of str
        Each non-empty set's genes found in ``gene_names``, in the set's order.
    """
    known = set(map(str, gene_names))
    out, dropped = {}, []
    for name, genes in gene_sets.items():
        kept = [g for g in genes if g in known]
        if kept:
            out[name] = kept
        else:
            dropped.append(name)
    if dropped:
        warnings.warn(f"no gene of {dropped} is among the given genes; those sets are left out.",
                      UserWarning, stacklevel=2)
    return out
