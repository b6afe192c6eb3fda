# ---- the job body, shared by every template ------------------------------------------------
set -uo pipefail
NODE=$(hostname -s)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
RESTART_COUNT=${SLURM_RESTART_COUNT:-0}
declare -A PID=() FAILS=() SINCE=()
SERVICES=()

log() { printf '%s [codex-services %s] %s\n' "$(date +%H:%M:%S)" "${SLURM_JOB_ID:-?}" "$*"; }

write_endpoints() {  # $1: stale flag. Atomic: a temp file in the same dir, 0600, then mv.
  local dir tmp urls="" i
  dir=$(dirname "$ENDPOINTS_FILE"); mkdir -p "$dir"
  tmp=$(mktemp "$ENDPOINTS_FILE.XXXXXX") || return 1
  chmod 600 "$tmp"
  for i in "${!EMBED_PORTS[@]}"; do urls+="${urls:+,}http://$NODE:${EMBED_PORTS[$i]}"; done
  {
    echo "# written by the codex-services job; read by codex-console and the tools"
    [ "$RUN_EMBED" = 1 ] && echo "EMBED_URL=http://$NODE:${EMBED_PORTS[0]}" && echo "EMBED_URLS=$urls"
    [ "$RUN_NEO4J" = 1 ] && echo "NEO4J_URI=bolt://$NODE:$BOLT_PORT"
    echo "JOB_ID=${SLURM_JOB_ID:-}"
    echo "NODE=$NODE"
    echo "STARTED=$STARTED"
    echo "RESTART_COUNT=$RESTART_COUNT"
    echo "STALE=$1"
  } >"$tmp" && mv -f "$tmp" "$ENDPOINTS_FILE"
}

http_ready() {  # host port: GET /ready answers 200
  timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1 && printf "GET /ready HTTP/1.0\r\nHost: $0\r\n\r\n" >&3 &&
    read -r _ status _ <&3 && [ "$status" = 200 ]' "$1" "$2" 2>/dev/null
}

bolt_ready() {  # host port: the Bolt handshake gets an answer
  timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1 && printf "\x60\x60\xb0\x17\x00\x00\x04\x05\x00\x00\x04\x04\x00\x00\x03\x04\x00\x00\x00\x03" >&3 &&
    [ -n "$(head -c 4 <&3 | od -An -tx1)" ]' "$1" "$2" 2>/dev/null
}

start_service() {  # name
  local name=$1
  case $name in
    neo4j)
      if [ -n "$NEO4J_LOCK" ] && [ -e "$NEO4J_LOCK" ]; then
        log "removing stale Neo4j lock $NEO4J_LOCK"; rm -f -- "$NEO4J_LOCK"
      fi
      bash -c "exec $NEO4J_COMMAND" &
      ;;
    embed*)
      local i=${name#embed} gpu_env=()
      [ -n "${GPU_IDS[$i]:-}" ] && gpu_env=(env "CUDA_VISIBLE_DEVICES=${GPU_IDS[$i]}")
      "${gpu_env[@]}" bash -c "exec $EMBED_COMMAND \"\$@\"" embed --model "$MODEL" \
        --host 0.0.0.0 --port "${EMBED_PORTS[$i]}" --device "$EMBED_DEVICE" \
        --dimension "$EMBED_DIMENSION" ${API_KEY_FILE:+--api-key-file "$API_KEY_FILE"} &
      ;;
  esac
  PID[$name]=$!
  SINCE[$name]=$SECONDS
  log "started $name (pid ${PID[$name]})"
}

service_ready() {
  case $1 in
    neo4j) bolt_ready "$NODE" "$BOLT_PORT" ;;
    embed*) http_ready "$NODE" "${EMBED_PORTS[${1#embed}]}" ;;
  esac
}

wait_ready() {  # name timeout: ready, or dead, or out of time
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    service_ready "$1" && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || return 1
    sleep 1 & wait $!
  done
  return 1
}

stop_all() {
  local name
  for name in "${SERVICES[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null; done
  for name in "${SERVICES[@]}"; do
    for _ in $(seq 40); do kill -0 "${PID[$name]}" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "${PID[$name]}" 2>/dev/null
  done
}

on_term() {
  log "SIGTERM: stopping services, marking $ENDPOINTS_FILE stale"
  trap - TERM INT
  write_endpoints 1
  stop_all
  exit 0
}
trap on_term TERM INT

# One replica per GPU Slurm gave this job, each pinned to its own GPU; never a guess.
IFS=, read -r -a GPU_IDS <<<"${CUDA_VISIBLE_DEVICES:-}"
EMBED_PORTS=()
if [ "$RUN_EMBED" = 1 ]; then
  replicas=${#GPU_IDS[@]}; [ "$replicas" -ge 1 ] || { replicas=1; GPU_IDS=(""); }
  for ((i = 0; i < replicas; i++)); do EMBED_PORTS+=($((EMBED_PORT + i))); SERVICES+=("embed$i"); done
fi
[ "$RUN_NEO4J" = 1 ] && SERVICES=(neo4j "${SERVICES[@]}")

log "node $NODE, restart $RESTART_COUNT, GPUs '${CUDA_VISIBLE_DEVICES:-none}', services: ${SERVICES[*]}"
for name in "${SERVICES[@]}"; do start_service "$name"; done
for name in "${SERVICES[@]}"; do
  wait_ready "$name" "$READY_TIMEOUT" || log "$name is not ready after ${READY_TIMEOUT}s"
done
write_endpoints 0
log "endpoints written to $ENDPOINTS_FILE"

# Supervise: a service that dies is restarted in place (same node, same GPU) with backoff;
# one that keeps dying past RESTART_LIMIT makes the job requeue itself.
while true; do
  for name in "${SERVICES[@]}"; do
    kill -0 "${PID[$name]}" 2>/dev/null && continue
    wait "${PID[$name]}"; rc=$?
    [ $((SECONDS - SINCE[$name])) -gt 600 ] && FAILS[$name]=0  # it had run well for a while
    FAILS[$name]=$(( ${FAILS[$name]:-0} + 1 ))
    if [ "${FAILS[$name]}" -gt "$RESTART_LIMIT" ]; then
      log "$name failed ${FAILS[$name]} times (last exit $rc): requeueing the job"
      trap - TERM INT
      write_endpoints 1
      stop_all
      scontrol requeue "$SLURM_JOB_ID"
      sleep 600 & wait $!
      exit 1
    fi
    delay=$(( 1 << (FAILS[$name] - 1) )); [ $delay -gt 30 ] && delay=30
    log "$name exited ($rc); restart ${FAILS[$name]}/$RESTART_LIMIT in ${delay}s"
    sleep "$delay" & wait $!
    start_service "$name"
    if wait_ready "$name" "$READY_TIMEOUT"; then write_endpoints 0; log "$name is back"; fi
  done
  sleep 2 & wait $!
done
