"""The interactions as long rows: one (user_id, item_id, interaction) row per
nonzero of the sparse users x items matrix, the table NCF trains on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def positive_rows(matrix: sp.spmatrix) -> pd.DataFrame:
    """Every interaction of ``matrix`` as a row labelled 1, user-major and by
    item within a user (0-based int32 ids, int8 labels)."""
    coo = sp.coo_matrix(matrix)
    order = np.lexsort((coo.col, coo.row))
    return pd.DataFrame(
        {
            "user_id": coo.row[order].astype(np.int32),
            "item_id": coo.col[order].astype(np.int32),
            "interaction": np.ones(coo.nnz, dtype=np.int8),
        }
    )
