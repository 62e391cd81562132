#!/bin/bash
# Stops everything slurm-up.sh started, by PID file, and removes the job cgroups.
ids=$(squeue -h -o %A 2>/dev/null || true); [ -n "$ids" ] && scancel $ids   # no orphaned slurmstepd
for _ in $(seq 50); do [ -z "$(squeue -h -t PD,R,CG,S 2>/dev/null)" ] && break; sleep 0.2; done
pids=$(cat /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid 2>/dev/null)
[ -n "$pids" ] && kill $pids 2>/dev/null       # TERM in parallel: each graceful stop takes 2-4 s
for _ in $(seq 50); do alive=; for p in $pids; do kill -0 $p 2>/dev/null && alive="$alive $p"; done
  [ -z "$alive" ] && break; sleep 0.1; done
[ -n "$alive" ] && kill -9 $alive
rm -f /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid   # stale ones break dpkg prerm (it calls scancel)
find /sys/fs/cgroup/*/slurm_* -depth -type d -exec rmdir {} \; 2>/dev/null; true
