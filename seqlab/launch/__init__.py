"""From a command line to a running Trainer.

command.py: `seqlab train` and `seqlab resume` (compose once, check, claim the run folder once,
run the job; a sweep through Hydra's launchers); preflight.py: the checks made before a run
folder exists; processes.py: where a run's processes come from (one process, torchrun, a
submitit task, `trainer.devices=N`) and the run's observers (trackers included); spawn.py: the
ranks seqlab starts itself (forked warm: seqlab/warm_start.py), watched and stopped together.
"""
