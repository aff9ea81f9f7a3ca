"""What is predicted and how it is scored: tasks, their kinds, folds, metrics, typed fold
results and the text-only baselines. The first sub-stage: every later one reads it."""
