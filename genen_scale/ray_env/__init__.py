"""Where Ray runs and how a store reaches it: a local Ray bound to 127.0.0.1 and the
store copied once per node. Shared by encoding, training and sweeps."""
