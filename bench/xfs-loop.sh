#!/usr/bin/env bash
# Mounts a 24 GB sparse XFS image (reflinks on) at /mnt/abilink-xfs, to run bench/patch.mjs
# where an atomic rewrite can share the unchanged blocks with the original (FICLONE), as it
# can on XFS, btrfs, bcachefs and ZFS; ext4 cannot. Needs root, a loop device and xfsprogs.
#
#   sudo bash bench/xfs-loop.sh            # mount
#   TMPDIR=/mnt/abilink-xfs BENCH_OUT=bench/results/patch-xfs.json node bench/patch.mjs
#   sudo bash bench/xfs-loop.sh --remove   # unmount and delete the image
set -euo pipefail
img=/var/tmp/abilink-xfs.img
mnt=/mnt/abilink-xfs
if [ "${1:-}" = "--remove" ]; then
  umount "$mnt" 2>/dev/null || true
  rm -f "$img"
  exit 0
fi
command -v mkfs.xfs >/dev/null || { apt-get update -qq && apt-get install -y -qq xfsprogs >/dev/null; }
truncate -s 24G "$img"
mkfs.xfs -q -f -m reflink=1 "$img"
mkdir -p "$mnt"
mount -o loop "$img" "$mnt"
chmod 1777 "$mnt"
df -hT "$mnt" | tail -1
