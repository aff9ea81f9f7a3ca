"""The GNNs (GCN, GAT, K folds stacked) and the graphs they propagate over: the normalised
adjacency, the trimmed receptive field and the leakage-control graph variants."""
