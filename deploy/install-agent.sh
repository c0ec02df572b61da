#!/usr/bin/env bash
# Installs the Hone agent as a systemd service on this machine.
#   sudo deploy/install-agent.sh --master http://master:8080 [--token T] [--pool NAME] [--id ID] [--slots N]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MASTER="" TOKEN="" POOL="default" ID="$(hostname)" SLOTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --master) MASTER="$2"; shift 2 ;;
    --token) TOKEN="$2"; shift 2 ;;
    --pool) POOL="$2"; shift 2 ;;
    --id) ID="$2"; shift 2 ;;
    --slots) SLOTS="$2"; shift 2 ;;
    -h|--help) sed -n 2,3p "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
[ -n "$MASTER" ] || { echo "--master is required" >&2; exit 2; }
command -v node >/dev/null || { echo "Node.js 20.19+ is required" >&2; exit 1; }
mkdir -p /etc/hone /var/lib/hone-agent
umask 077
cat > /etc/hone/agent.env <<ENV
HONE_MASTER=$MASTER
HONE_AGENT_TOKEN=$TOKEN
HONE_AGENT_POOL=$POOL
HONE_AGENT_ID=$ID
HONE_AGENT_WORK_DIR=/var/lib/hone-agent
${SLOTS:+HONE_AGENT_SLOTS=$SLOTS}
ENV
sed "s#@ROOT@#$ROOT#g; s#@NODE@#$(command -v node)#g" "$ROOT/deploy/systemd/hone-agent.service" > /etc/systemd/system/hone-agent.service
systemctl daemon-reload
systemctl enable --now hone-agent
echo "hone-agent installed: systemctl status hone-agent; journalctl -u hone-agent -f"
