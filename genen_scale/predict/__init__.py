"""What a user does with a trained run: genome-wide predictions, gene embeddings keyed by
ids, nearest genes (``genen-predict``, ``genen-neighbors``).

Modules: :mod:`.trained_run` (a run directory read back), :mod:`.scoring` (every gene
scored by each fold's model), :mod:`.tables` (the Parquet files), :mod:`.genome`
(the driver, ``--top``), :mod:`.neighbors` and :mod:`.cli`.
"""
