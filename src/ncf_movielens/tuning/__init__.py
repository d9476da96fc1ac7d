"""Tuning: every tunable model searched with Optuna on a validation split
carved from train, with the same budget, never on the test set.

- ``validation``: the fit / validation split of the train matrix, and the
  score a trial is judged by (the standard protocol, fit items removed);
- ``space``: search spaces from the parameters, as Optuna suggestions;
- ``studies``: the study storage, resuming, the budget and the summary;
- ``objectives``: how each model trains and scores in one trial.
"""
