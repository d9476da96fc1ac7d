"""ncf-movielens: NCF (NeuMF) vs LightFM on MovieLens as a Kedro project.

Importing the package (Kedro does, for settings.py, before any config or
TensorFlow is loaded) also quiets two third-party notices that drown the log.
"""

import os
import warnings

# TensorFlow's C++ INFO lines (the CPU-instructions and oneDNN notices, and
# absl's "All log messages before absl::InitializeLog()" preamble that comes
# with the first of them) drown the pipeline's own log; TensorFlow's warnings
# and errors still show. Set TF_CPP_MIN_LOG_LEVEL=0 to see them all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# Kedro 1.7's OmegaConfigLoader still calls OmegaConf.register_new_resolver,
# which OmegaConf 2.4 deprecates: a notice for Kedro, three times per run, that
# nothing in this project can act on. Only that message from that module.
warnings.filterwarnings(
    "ignore",
    message=r"register_new_resolver\(\) is deprecated",
    category=UserWarning,
    module=r"kedro\.config\.omegaconf_config",
)
# kedro-mlflow 2.0.3 registers its km.random_name resolver the same way.
warnings.filterwarnings(
    "ignore",
    message=r"register_new_resolver\(\) is deprecated",
    category=UserWarning,
    module=r"kedro_mlflow\.framework\.hooks\.mlflow_hook",
)

__version__ = "0.1.0"
