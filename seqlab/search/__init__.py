"""Hyperparameter search: `seqlab search`, a study that survives a crash and prunes bad trials.

A study lives in one folder, like a sweep; each trial is an ordinary run folder in it, so
`seqlab compare STUDY` reads it as it reads any sweep:

    <study>/study.json        what the study searches: space, fixed overrides, metric, pruner
    <study>/trials.jsonl      the journal: one line per trial started and per trial finished
    <study>/best.json         the best trial, its parameters, the pruned count and compute saved
    <study>/<n>_<model>_<task>/   trial n's run folder (its console output in console.log)
    <study>/.lock             held by the one `seqlab search` running the study

The journal is the study: the sampler (Optuna's TPE) is rebuilt from it before each new trial,
so a study killed at any moment continues from it. A trial started but not finished is run
again with the same parameters in the same folder, from its last checkpoint.

`space.py` reads the search space (Optuna sweeper syntax), `journal.py` the study's files,
`objective.py` the value a trial scores, `pruner.py` the decision a trial's pruning callback
asks for (seqlab/engine/callbacks/pruning.py), `runner.py` runs the trials side by side and
`outcome.py` says what the study found.
"""

STUDY_SETTINGS = "study.json"
JOURNAL = "trials.jsonl"
BEST = "best.json"
CONSOLE = "console.log"
