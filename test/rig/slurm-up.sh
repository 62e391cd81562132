#!/bin/bash
# A single-node Slurm 22.05 with accounting (shared/RIG.md §2): munge, MariaDB, slurmdbd, slurmctld,
# slurmd, started by PID files. One per machine (fixed ports, /etc/slurm). ACCT=1 for accounting.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive; ACCT=${ACCT:-0}
[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
for b in slurmctld slurmd sbatch munged; do command -v $b >/dev/null || { echo "missing $b: apt-get install slurmctld slurmd slurm-client munge slurmdbd mariadb-server" >&2; exit 3; }; done
H=$(hostname -s); MEM=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 512 ))
# munge: postinst already generated /etc/munge/munge.key
[ -s /etc/munge/munge.key ] || { mungekey -c; chown munge:munge /etc/munge/munge.key; }
install -d -o munge -g munge -m 0755 /run/munge
runuser -u munge -- /usr/sbin/munged            # daemonizes; /run/munge/munged.pid
munge -n | unmunge >/dev/null
if [ "$ACCT" = 1 ]; then
  install -d -o mysql -g mysql /run/mysqld
  runuser -u mysql -- /usr/sbin/mariadbd --bind-address=127.0.0.1 --pid-file=/run/mysqld/mysqld.pid \
     --socket=/run/mysqld/mysqld.sock --innodb-lock-wait-timeout=900 >/var/log/mysql-test.log 2>&1 &
  for _ in $(seq 150); do mariadb -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
  mariadb -uroot <<'EOF'
DROP DATABASE IF EXISTS slurm_acct_db;   -- job ids restart at 1 with a fresh StateSaveLocation
CREATE DATABASE slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
  printf '%s\n' AuthType=auth/munge DbdAddr=127.0.0.1 DbdHost=localhost SlurmUser=slurm \
    LogFile=/var/log/slurm/slurmdbd.log PidFile=/run/slurmdbd.pid StorageType=accounting_storage/mysql \
    StorageHost=localhost StorageLoc=slurm_acct_db StorageUser=slurm StoragePass=slurmpw >/etc/slurm/slurmdbd.conf
  chown slurm:slurm /etc/slurm/slurmdbd.conf; chmod 600 /etc/slurm/slurmdbd.conf
  slurmdbd                                      # daemonizes; /run/slurmdbd.pid
  for _ in $(seq 100); do ss -Hltn 'sport = :6819' | grep -q . && break; sleep 0.1; done
fi
rm -rf /var/spool/slurmctld /var/spool/slurmd   # fresh state every run
install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm; install -d /var/spool/slurmd
if [ "${NO_CGROUP:-0}" != 1 ] && [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] && [ -d /sys/fs/cgroup/freezer ]; then
  PT=proctrack/cgroup TP=task/cgroup JA=jobacct_gather/cgroup JP=NoOverMemoryKill
  printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainRAMSpace=yes\nConstrainSwapSpace=yes\n' >/etc/slurm/cgroup.conf
else
  PT=proctrack/linuxproc TP=task/none JA=jobacct_gather/linux JP=OverMemoryKill
fi
cat >/etc/slurm/slurm.conf <<EOF
ClusterName=kutest
SlurmctldHost=$H(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=$PT
TaskPlugin=$TP
JobAcctGatherType=$JA
JobAcctGatherParams=$JP
JobAcctGatherFrequency=task=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=1
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
[ "$ACCT" = 1 ] && printf 'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=127.0.0.1\n' >>/etc/slurm/slurm.conf
slurmctld; slurmd                               # both daemonize; ctld drops to SlurmUser
for _ in $(seq 100); do sinfo -h -o %T 2>/dev/null | grep -q '^idle' && break; sleep 0.2; done
