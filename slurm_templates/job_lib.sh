# ---- the job body (1/3): services, readiness, the endpoints file, supervision ---------------
# Starts Neo4j and one embed replica per GPU, publishes only the services that are ready, and
# supervises them: restart in place with backoff; a replica that keeps failing is marked down
# while the rest keep serving; the job requeues itself (off the node) only when no GPU works
# and the failure points at the node, and gives up after REQUEUE_LIMIT requeues in the window.
set -uo pipefail
NODE=$(hostname -s)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
RESTART_COUNT=${SLURM_RESTART_COUNT:-0}
LOG_FILE=$(scontrol show job "${SLURM_JOB_ID:-0}" --oneliner 2>/dev/null | grep -o 'StdOut=[^ ]*' | cut -d= -f2-)
REQUEUES_FILE="$ENDPOINTS_FILE.requeues"
EXIT_DEVICE=3  # codex-embed-server's exit code when the GPU itself is unusable
DRAIN_SECONDS=2  # a replica leaves the endpoints file this long before it is stopped
DOWN_RETRY=600  # a service marked down is tried again this often
declare -A PID=() FAILS=() SINCE=() READY=() LASTRC=() WHY=()
SERVICES=()
PUBLISHED=""
FINAL_REASON=""  # why the whole job stops serving (ending, requeued, gave up)
EVENTS_LIST=()  # the last few things the supervisor did, for the console's events pane
PARTNER_URLS=""  # during a hand-over: the successor's ready replicas, listed beside ours
REQUEUE_AT_END=0
WANT_RESTART=""

log() { printf '%s [codex-services %s] %s\n' "$(date +%H:%M:%S)" "${SLURM_JOB_ID:-?}" "$*"; }
event() {  # logged, and kept (the last 5) in the endpoints file's EVENTS
  log "$1"
  EVENTS_LIST+=("$(date -u +%H:%M:%SZ) $1")
  [ ${#EVENTS_LIST[@]} -gt 5 ] && EVENTS_LIST=("${EVENTS_LIST[@]: -5}")
  return 0
}
nap() { sleep "$1" & wait $! 2>/dev/null; }  # a sleep that signals interrupt

ready_urls() {  # this job's replicas that are ready
  local name urls=""
  for name in "${SERVICES[@]}"; do
    [[ $name == embed* && ${READY[$name]:-0} == 1 ]] && urls+="${urls:+,}http://$NODE:${EMBED_PORTS[${name#embed}]}"
  done
  printf '%s' "$urls"
}

down_list() {
  local name out=""
  for name in "${SERVICES[@]}"; do [ "${STATE[$name]:-}" = down ] && out+="${out:+,}$name"; done
  printf '%s' "$out"
}

reason() {  # why not everything serves, in words; empty when it does
  [ -n "$FINAL_REASON" ] && { printf '%s' "$FINAL_REASON"; return 0; }
  local name out=""
  for name in "${SERVICES[@]}"; do [ -n "${WHY[$name]:-}" ] && out+="${out:+; }${WHY[$name]}"; done
  [ -z "$out" ] && ! serving && out="starting: waiting for the services to be ready"
  printf '%s' "$out"
}

serving() {  # every kind of service this job runs has something ready
  [ "$RUN_EMBED" = 1 ] && [ -z "$(ready_urls)" ] && return 1
  [ "$RUN_NEO4J" = 1 ] && [ "${READY[neo4j]:-0}" != 1 ] && return 1
  return 0
}

write_endpoints() {  # $1: stale flag (optional; else derived). Atomic, only when it changed.
  local stale=${1:-} urls dir tmp body why
  may_publish || return 0
  urls=$(ready_urls)
  [ -n "$PARTNER_URLS" ] && urls+="${urls:+,}$PARTNER_URLS"  # a successor's ready replicas
  why=$(reason)
  if [ -z "$stale" ]; then if serving; then stale=0; else stale=1; fi; fi
  body=$(
    echo "# written by the codex-services job; read by codex-console and the tools"
    if [ -n "$urls" ]; then echo "EMBED_URL=${urls%%,*}"; echo "EMBED_URLS=$urls"; fi
    [ "${READY[neo4j]:-0}" = 1 ] && echo "NEO4J_URI=bolt://$NODE:$BOLT_PORT"
    [ -n "$(down_list)" ] && echo "EMBED_DOWN=$(down_list)"
    echo "JOB_ID=${SLURM_JOB_ID:-}"
    echo "NODE=$NODE"
    echo "STARTED=$STARTED"
    echo "RESTART_COUNT=$RESTART_COUNT"
    [ -n "$LOG_FILE" ] && echo "LOG_FILE=$(printf %q "$LOG_FILE")"
    [ -n "$why" ] && echo "REASON=$(printf %q "$why")"
    [ ${#EVENTS_LIST[@]} -gt 0 ] && echo "EVENTS=$(IFS='|'; printf %q "${EVENTS_LIST[*]}")"
    extra_endpoints
    echo "STALE=$stale"
  )
  [ "$body" = "$PUBLISHED" ] && return 0
  dir=$(dirname "$ENDPOINTS_FILE"); mkdir -p "$dir"
  tmp=$(mktemp "$ENDPOINTS_FILE.XXXXXX") || return 1
  chmod "$ENDPOINTS_MODE" "$tmp"
  [ -n "$SHARED_GROUP" ] && chgrp "$SHARED_GROUP" "$tmp"
  printf '%s\n' "$body" >"$tmp" && mv -f "$tmp" "$ENDPOINTS_FILE" && PUBLISHED=$body
}

http_ready() {  # host port: GET /ready answers 200
  timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1 && printf "GET /ready HTTP/1.0\r\nHost: $0\r\n\r\n" >&3 &&
    read -r _ status _ <&3 && [ "$status" = 200 ]' "$1" "$2" 2>/dev/null
}

bolt_ready() {  # host port: the Bolt handshake gets an answer
  timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1 && printf "\x60\x60\xb0\x17\x00\x00\x04\x05\x00\x00\x04\x04\x00\x00\x03\x04\x00\x00\x00\x03" >&3 &&
    [ -n "$(head -c 4 <&3 | od -An -tx1)" ]' "$1" "$2" 2>/dev/null
}

service_ready() {
  case $1 in
    neo4j) bolt_ready "$NODE" "$BOLT_PORT" ;;
    embed*) http_ready "$NODE" "${EMBED_PORTS[${1#embed}]}" ;;
  esac
}

start_service() {  # name
  local name=$1
  case $name in
    neo4j)
      neo4j_lock_free || return 1
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
  READY[$name]=0
  log "started $name (pid ${PID[$name]})"
}

neo4j_lock_free() {  # the store lock is removed only when no live process holds it
  [ -n "$NEO4J_LOCK" ] && [ -e "$NEO4J_LOCK" ] || return 0
  local holder
  holder=$(lock_holder "$NEO4J_LOCK")
  if [ -n "$holder" ]; then
    local why="Neo4j store is in use: $NEO4J_LOCK is held by $holder; not starting a second Neo4j"
    [ "${WHY[neo4j]:-}" = "$why" ] || log "$why; waiting for it to be free"
    WHY[neo4j]=$why
    return 1
  fi
  log "removing stale Neo4j lock $NEO4J_LOCK (no live process holds it)"
  rm -f -- "$NEO4J_LOCK"
}

lock_holder() {  # who holds an OS-level lock (fcntl or flock) on the file; nothing when free
  local ino pids
  ino=$(stat -c %i -- "$1" 2>/dev/null) || return 0
  pids=$(awk -v ino=":$ino$" '$6 ~ ino {print $5}' /proc/locks 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "$pids" ]; then printf 'pid %s' "${pids% }"; return 0; fi
  # Not held on this node; a shared filesystem may still hold it for another node.
  python3 -c 'import fcntl, sys
f = open(sys.argv[1], "rb+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(0)
sys.exit(1)' "$1" 2>/dev/null && printf 'a process on another node'
  return 0
}

stop_service() {  # name seconds: TERM, then KILL after the given time; logs how long it took
  local name=$1 limit=$2 t0=$SECONDS pid=${PID[$1]:-}
  [ -n "$pid" ] || return 0
  READY[$name]=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t0)) -lt "$limit" ]; do nap 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within ${limit}s: killing it"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  log "$name stopped after $((SECONDS - t0))s"
}

stop_all() {  # embed replicas in parallel; Neo4j gets the whole STOP_TIMEOUT
  local name pids=()
  for name in "${SERVICES[@]}"; do
    [ "$name" = neo4j ] && continue
    stop_service "$name" 30 & pids+=($!)
  done
  [ "$RUN_NEO4J" = 1 ] && stop_service neo4j "$STOP_TIMEOUT"
  wait "${pids[@]}" 2>/dev/null
}

on_term() {  # $1: why. TERM is a cancel or a requeue (Slurm kills all after KillWait); XCPU is
  # the end-of-time signal (--signal=B:XCPU@lead), for this shell alone, with the lead to use
  trap - TERM INT XCPU
  trap '' USR1 USR2  # a restart asked for now would end the shell: stopping goes first
  log "$1: stopping services (Neo4j gets up to ${STOP_TIMEOUT}s), marking $ENDPOINTS_FILE stale"
  if [ "$1" = "end of time" ]; then at_time_limit; else on_cancel; fi
  FINAL_REASON=${FINAL_REASON:-"job ${SLURM_JOB_ID:-} is ending ($1)"}
  for name in "${SERVICES[@]}"; do READY[$name]=0; done
  write_endpoints 1
  stop_all
  if [ "$REQUEUE_AT_END" = 1 ]; then
    trap '' TERM
    scontrol requeue "$SLURM_JOB_ID" && log "requeued: $FINAL_REASON"
  fi
  exit 0
}

at_time_limit() { REQUEUE_AT_END=1; FINAL_REASON="time limit: requeued"; }  # the rollover part refines these
on_cancel() { :; }

# ---- failures that point at the node: requeue off it, within limits ---------------------------
other_nodes() {  # nodes of the job's partitions besides this one
  sinfo -h -N -p "$PARTITIONS" -o %N 2>/dev/null | sort -u | grep -vx "$NODE"
}

requeue_or_give_up() {  # $1: why
  local now recent
  now=$(date +%s)
  printf '%s %s %s %s\n' "$now" "${SLURM_JOB_ID:-}" "$NODE" "$1" >>"$REQUEUES_FILE"
  recent=$(awk -v since=$((now - REQUEUE_WINDOW)) '$1 >= since' "$REQUEUES_FILE" | wc -l)
  trap - TERM INT XCPU
  trap '' USR1 USR2
  for name in "${SERVICES[@]}"; do READY[$name]=0; done
  if [ "$recent" -gt "$REQUEUE_LIMIT" ]; then
    FINAL_REASON="gave up after $((recent - 1)) requeues in ${REQUEUE_WINDOW}s: $1"
    event "$FINAL_REASON"
    write_endpoints 1
    stop_all
    log "ending as FAILED: $FINAL_REASON"
    exit 1
  fi
  FINAL_REASON="requeued off $NODE ($((recent))/$REQUEUE_LIMIT in ${REQUEUE_WINDOW}s): $1"
  event "$FINAL_REASON"
  write_endpoints 1
  stop_all
  trap '' TERM  # Slurm's TERM for the requeue must not cut the exclusion below short
  scontrol requeue "$SLURM_JOB_ID"
  if [ "$EXCLUDE_FAILED_NODE" = 1 ] && [ -z "$(other_nodes)" ]; then
    log "not excluding $NODE: no other node in $PARTITIONS could take the job"
  elif [ "$EXCLUDE_FAILED_NODE" = 1 ]; then  # accepted once the requeue is under way
    local excluded=0
    for _ in $(seq 40); do
      scontrol update JobId="$SLURM_JOB_ID" ExcNodeList="$NODE" 2>/dev/null && { excluded=1; break; }
      nap 0.25
    done
    [ "$excluded" = 1 ] || log "could not keep the job off $NODE"
  fi
  nap 600
  exit 1
}

# ---- supervision --------------------------------------------------------------------------------
declare -A STATE=() NEXT_START=() CHECKED=() MISSES=()

on_exit() {  # name rc: restart with backoff, or mark down past the limit
  local name=$1 rc=$2 delay
  READY[$name]=0
  LASTRC[$name]=$rc
  [ $((SECONDS - SINCE[$name])) -gt 600 ] && FAILS[$name]=0  # it had run well for a while
  FAILS[$name]=$(( ${FAILS[$name]:-0} + 1 ))
  if [ "${FAILS[$name]}" -gt "$RESTART_LIMIT" ]; then
    STATE[$name]=down
    NEXT_START[$name]=$((SECONDS + DOWN_RETRY))  # a passing cause (a filesystem hiccup) may clear
    FAILS[$name]=$RESTART_LIMIT  # one more failure after a retry marks it down again
    WHY[$name]="$name failed $((RESTART_LIMIT + 1)) times in a row (last exit $rc); marked down"
    event "${WHY[$name]}; the other services keep serving; tried again in ${DOWN_RETRY}s"
    write_endpoints
    [[ $name == embed* ]] && all_replicas_down && device_failure &&
      requeue_or_give_up "no working GPU on $NODE (embed exit $EXIT_DEVICE: device unusable)"
    return 0
  fi
  delay=$(( 1 << (FAILS[$name] - 1) )); [ $delay -gt 30 ] && delay=30
  STATE[$name]=backoff
  NEXT_START[$name]=$((SECONDS + delay))
  event "$name exited ($rc); restart ${FAILS[$name]}/$RESTART_LIMIT in ${delay}s"
}

all_replicas_down() {
  local name
  for name in "${SERVICES[@]}"; do [[ $name == embed* && ${STATE[$name]} != down ]] && return 1; done
  return 0
}

device_failure() {
  local name
  for name in "${SERVICES[@]}"; do [[ $name == embed* && ${LASTRC[$name]:-} == "$EXIT_DEVICE" ]] && return 0; done
  return 1
}

launch() {  # name: start it; when it may not start yet (its store is locked) try again soon
  if start_service "$1"; then STATE[$1]=running; CHECKED[$1]=0; WHY[$1]=""
  else STATE[$1]=backoff; NEXT_START[$1]=$((SECONDS + 2)); fi
}

check_ready() {  # name: readiness until ready, then every 5 s
  local name=$1
  [ "${READY[$name]}" = 1 ] && [ $((SECONDS - ${CHECKED[$name]:-0})) -lt 5 ] && return 0
  CHECKED[$name]=$SECONDS
  if service_ready "$name"; then
    MISSES[$name]=0
    if [ "${READY[$name]}" != 1 ]; then
      READY[$name]=1
      log "$name is ready after $((SECONDS - SINCE[$name]))s"
      [ "${FAILS[$name]:-0}" -gt 0 ] && event "$name is back"
    fi
  elif [ "${READY[$name]}" = 1 ]; then  # three misses in a row (15 s), not one lost handshake
    MISSES[$name]=$(( ${MISSES[$name]:-0} + 1 ))
    if [ "${MISSES[$name]}" -ge 3 ]; then
      READY[$name]=0
      log "$name stopped answering its readiness check"
    fi
  elif [ $((SECONDS - SINCE[$name])) -gt "$READY_TIMEOUT" ]; then
    log "$name is not ready after ${READY_TIMEOUT}s: restarting it"
    kill -TERM "${PID[$name]}" 2>/dev/null
  fi
}

supervise() {  # one pass over every service
  local name rc
  for name in "${SERVICES[@]}"; do
    case ${STATE[$name]} in  # (waiting and handed-over: the rollover part decides)
      running)
        if kill -0 "${PID[$name]}" 2>/dev/null; then check_ready "$name"
        else wait "${PID[$name]}"; rc=$?; on_exit "$name" "$rc"; fi ;;
      backoff|down)
        [ "$SECONDS" -ge "${NEXT_START[$name]}" ] && launch "$name" ;;
    esac
  done
  write_endpoints
}

restart_in_place() {  # which: embed (one replica at a time) or neo4j
  local which=$1 name t0
  event "in-place restart of $which requested"
  for name in "${SERVICES[@]}"; do
    [[ $name == "$which"* ]] || continue
    case ${STATE[$name]} in waiting|handed-over) log "$name is not this job's to restart"; continue ;; esac
    READY[$name]=0
    write_endpoints  # clients stop using it before it goes away: they re-read the file
    if [ "$name" = neo4j ]; then stop_service "$name" "$STOP_TIMEOUT"
    else nap "$DRAIN_SECONDS"; stop_service "$name" 30; fi
    FAILS[$name]=0
    launch "$name"
    t0=$SECONDS
    while [ "${STATE[$name]}" = running ] && [ "${READY[$name]}" != 1 ] &&
          [ $((SECONDS - t0)) -lt "$READY_TIMEOUT" ]; do
      nap 1
      kill -0 "${PID[$name]}" 2>/dev/null || break
      check_ready "$name"
    done
    write_endpoints
  done
  event "$which restarted in place"
  write_endpoints
}
