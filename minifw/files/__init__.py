"""What a run leaves on disk: model files and checkpoints, the ledger, atomic writes."""
