# ---- the job body (3/3): start the services, then supervise them --------------------------------
trap 'on_term "cancel or requeue"' TERM INT
trap 'on_term "end of time"' XCPU
trap 'WANT_RESTART=embed' USR1
trap 'WANT_RESTART=neo4j' USR2

# One replica per GPU Slurm gave this job, each pinned to its own GPU; never a guess.
IFS=, read -r -a GPU_IDS <<<"${CUDA_VISIBLE_DEVICES:-}"
EMBED_PORTS=()
clean_state_files
# A port is taken when something answers on it, or when the predecessor (of a hand-over) owns it:
# one of its replicas may be between two restarts.
OWNED=" "
[ -n "$PREDECESSOR" ] && [ "$(read_state "$PREDECESSOR" NODE)" = "$NODE" ] && OWNED=" $(read_state "$PREDECESSOR" PORTS) "
port_taken() { [[ $OWNED == *" $1 "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ "$RUN_EMBED" = 1 ]; then
  replicas=${#GPU_IDS[@]}; [ "$replicas" -ge 1 ] || { replicas=1; GPU_IDS=(""); }
  base=$EMBED_PORT  # a successor on its predecessor's node takes the next block of ports
  for block in 0 8 16; do
    taken=0
    for ((i = 0; i < replicas; i++)); do port_taken $((EMBED_PORT + block + i)) && taken=1; done
    [ "$taken" = 0 ] && { base=$((EMBED_PORT + block)); break; }
  done
  for ((i = 0; i < replicas; i++)); do EMBED_PORTS+=($((base + i))); SERVICES+=("embed$i"); done
fi
[ "$RUN_NEO4J" = 1 ] && SERVICES=(neo4j "${SERVICES[@]}")

log "node $NODE, restart $RESTART_COUNT, GPUs '${CUDA_VISIBLE_DEVICES:-none}', services: ${SERVICES[*]}" \
    "${PREDECESSOR:+(successor of job $PREDECESSOR)}"
write_endpoints 1
for name in "${SERVICES[@]}"; do
  if [ "$name" = neo4j ] && [ "$TAKEN_OVER" = 0 ]; then
    STATE[neo4j]=waiting  # its store belongs to the predecessor until it lets go
    log "neo4j waits for job $PREDECESSOR to release the store"
  else
    launch "$name"
  fi
done

while true; do
  supervise
  if [ -n "$WANT_RESTART" ]; then
    which=$WANT_RESTART; WANT_RESTART=""
    restart_in_place "$which"
  fi
  rollover_tick
  nap "$(tick_pause)"  # a tenth of a second while Neo4j moves: every second of looking is one more without Bolt
done
