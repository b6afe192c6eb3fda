# ---- the job body (2/3): no gap at the time limit ------------------------------------------------
# ROLLOVER_LEAD seconds before its limit the job (the predecessor) submits its successor: the
# same script, to the same partitions, without the singleton dependency. The successor starts
# its embed replicas; once they are ready the predecessor lists them beside its own and stops
# Neo4j cleanly; the successor starts Neo4j on the freed store, takes over the endpoints file,
# and the predecessor stops its replicas and ends by itself. Each job tells the other how far
# it got in a small state file of its own next to the endpoints file; only one of them writes
# the endpoints file at a time. With no room for a successor the job says so, and at its
# end-of-time signal stops cleanly and requeues itself, as before.
PREDECESSOR=${CODEX_PREDECESSOR:-}
SUCCESSOR=""  # its job id once submitted; "none" when that failed
HANDOVER=""  # submitted | pending: ... | starting: ... | ready | neo4j-moving | done | failed: ...
TAKEN_OVER=1; [ -n "$PREDECESSOR" ] && TAKEN_OVER=0
NEO4J_RELEASED=0
NEO4J_MOVED=""
STATE_URLS=""
END_EPOCH=0; END_CHECKED=-999; SUCC_CHECKED=-999; TAKEN_AT=-999; NEO4J_WAIT=0

state_file() { printf '%s.job-%s' "$ENDPOINTS_FILE" "$1"; }

write_state() {  # KEY=VALUE lines about this job, read by the other job of the hand-over
  local f tmp
  f=$(state_file "${SLURM_JOB_ID:-0}"); tmp="$f.tmp$$"
  printf '%s\n' "$@" >"$tmp" && chmod "$ENDPOINTS_MODE" "$tmp" && mv -f "$tmp" "$f"
}

read_state() {  # jobid key
  local f; f=$(state_file "$1")
  [ -r "$f" ] && sed -n "s/^$2=//p" "$f" | tail -n 1
  return 0
}

job_state() {  # jobid: its compact state, empty when squeue no longer knows it
  squeue -h -j "$1" -O StateCompact 2>/dev/null | tr -d ' '
}

seconds_left() {  # until this job's time limit (its EndTime, asked again every 15 s: it can change)
  if [ $((SECONDS - END_CHECKED)) -ge 15 ]; then
    local end
    end=$(squeue -h -j "${SLURM_JOB_ID:-0}" -O EndTime 2>/dev/null | tr -d ' ')
    END_EPOCH=$(date -d "$end" +%s 2>/dev/null || echo 0)
    END_CHECKED=$SECONDS
  fi
  if [ "$END_EPOCH" -gt 0 ]; then echo $((END_EPOCH - $(date +%s))); else echo 999999999; fi
}

may_publish() {  # a successor writes the endpoints file only once it has taken over, and the
  # predecessor stops writing it as soon as the successor has
  [ "$TAKEN_OVER" = 1 ] || return 1
  [ -z "$SUCCESSOR" ] || [ "$SUCCESSOR" = none ] || [ "$(read_state "$SUCCESSOR" TAKEN)" != 1 ]
}

extra_endpoints() {
  [ -n "$HANDOVER" ] && echo "HANDOVER=$(printf %q "$HANDOVER")"
  [ -n "$SUCCESSOR" ] && [ "$SUCCESSOR" != none ] && echo "SUCCESSOR=$SUCCESSOR"
  [ -n "$PREDECESSOR" ] && echo "PREDECESSOR=$PREDECESSOR"
  [ -n "$NEO4J_MOVED" ] && echo "NEO4J_MOVED=$(printf %q "$NEO4J_MOVED")"
  return 0
}

rollover_tick() {
  if [ "$TAKEN_OVER" = 0 ]; then successor_tick; return 0; fi
  recheck_takeover
  [ "$ROLLOVER_LEAD" -gt 0 ] || return 0
  if [ -z "$SUCCESSOR" ]; then
    [ "$(seconds_left)" -le "$ROLLOVER_LEAD" ] && submit_successor
    return 0
  fi
  [ "$SUCCESSOR" = none ] || predecessor_tick
}

submit_successor() {
  local script out
  if ! script=$(scontrol write batch_script "$SLURM_JOB_ID" - 2>&1); then
    SUCCESSOR=none; HANDOVER="failed: cannot read this job's script ($script)"
    event "hand-over $HANDOVER"; write_endpoints; return 0
  fi
  out=$(printf '%s\n' "$script" | grep -v '^#SBATCH --dependency=singleton' |
        sbatch --parsable --partition="$PARTITIONS" --comment="codex-rollover:$SLURM_JOB_ID" \
               --export="ALL,CODEX_PREDECESSOR=$SLURM_JOB_ID" 2>&1)
  if [[ $out =~ ^[0-9]+ ]]; then
    SUCCESSOR=${out%%;*}; HANDOVER="submitted"
    event "hand-over: successor $SUCCESSOR submitted, $(seconds_left)s before the limit"
  else
    SUCCESSOR=none; HANDOVER="failed: sbatch said: $out"
    event "hand-over $HANDOVER"
  fi
  write_endpoints
}

predecessor_tick() {
  local urls line
  if [ "$(read_state "$SUCCESSOR" TAKEN)" = 1 ]; then finish_handover; fi
  urls=$(read_state "$SUCCESSOR" EMBED_URLS)
  if [ -n "$urls" ]; then
    if [ "$PARTNER_URLS" != "$urls" ]; then
      PARTNER_URLS=$urls; HANDOVER=ready
      event "hand-over: successor $SUCCESSOR is ready ($urls)"
      write_endpoints
    fi
    [ "$NEO4J_RELEASED" = 1 ] || release_neo4j
    return 0
  fi
  [ $((SECONDS - SUCC_CHECKED)) -ge 10 ] || return 0
  SUCC_CHECKED=$SECONDS
  line=$(squeue -h -j "$SUCCESSOR" '-O' 'StateCompact:|,Reason:|,NodeList:|' 2>/dev/null)
  case $(cut -d'|' -f1 <<<"$line" | tr -d ' ') in
    PD) HANDOVER="pending: successor $SUCCESSOR waits ($(cut -d'|' -f2 <<<"$line" | xargs))" ;;
    R|CF) HANDOVER="starting: successor $SUCCESSOR on $(cut -d'|' -f3 <<<"$line" | xargs)" ;;
    "") HANDOVER="failed: successor $SUCCESSOR is gone"; SUCCESSOR=none; event "hand-over $HANDOVER" ;;
  esac
  write_endpoints
}

release_neo4j() {  # stop Neo4j cleanly so that the successor can open the store
  if [ "$RUN_NEO4J" = 1 ] && [ "${STATE[neo4j]:-}" = running ]; then
    HANDOVER=neo4j-moving; READY[neo4j]=0; STATE[neo4j]=handed-over
    WHY[neo4j]="Neo4j is moving to job $SUCCESSOR (hand-over before the time limit)"
    write_endpoints
    event "hand-over: stopping Neo4j for successor $SUCCESSOR"
    stop_service neo4j "$STOP_TIMEOUT"
  fi
  NEO4J_RELEASED=1
  write_state "NEO4J=released" "RELEASED_AT=$(date +%s)"
}

finish_handover() {  # the successor serves: stop our replicas and end (the job COMPLETES)
  local name
  HANDOVER=done
  event "hand-over done: successor $SUCCESSOR serves; job ${SLURM_JOB_ID:-} ends"
  trap - TERM INT USR1 USR2
  nap $((DRAIN_SECONDS + 3))  # tools re-read the endpoints file before our replicas go
  for name in "${SERVICES[@]}"; do
    [[ $name == embed* ]] && stop_service "$name" 30 &
  done
  wait
  rm -f "$(state_file "${SLURM_JOB_ID:-0}")"
  exit 0
}

successor_tick() {  # before the take-over: report readiness, start Neo4j once the store is free
  local urls pred_state
  urls=$(ready_urls)
  if [ -n "$urls" ] && [ "$urls" != "$STATE_URLS" ]; then
    STATE_URLS=$urls
    write_state "EMBED_URLS=$urls"
    event "successor of $PREDECESSOR: replicas ready ($urls)"
  fi
  if [ "${STATE[neo4j]:-}" = waiting ]; then
    pred_state=$(job_state "$PREDECESSOR")
    if [ "$(read_state "$PREDECESSOR" NEO4J)" = released ] || [ -z "$pred_state" ] ||
       [[ $pred_state =~ ^(CD|CA|F|TO|NF|PR|OOM|BF|DL|RV)$ ]]; then
      NEO4J_WAIT=$SECONDS
      event "Neo4j store released by job $PREDECESSOR: starting Neo4j"
      launch neo4j
    fi
  fi
  [ "${STATE[neo4j]:-}" = waiting ] && return 0
  serving && take_over
}

take_over() {
  TAKEN_OVER=1; TAKEN_AT=$SECONDS; HANDOVER=done
  [ "$RUN_NEO4J" = 1 ] && NEO4J_MOVED="$(date -u +%H:%M:%SZ) from job $PREDECESSOR (Bolt down $((SECONDS - NEO4J_WAIT))s)"
  write_state "EMBED_URLS=$STATE_URLS" "TAKEN=1"  # before the file: the predecessor stops writing it
  event "took over from job $PREDECESSOR"
  PUBLISHED=""
  write_endpoints
}

recheck_takeover() {  # a predecessor that wrote the file a moment after our take-over loses
  [ -n "$PREDECESSOR" ] && [ $((SECONDS - TAKEN_AT)) -le 15 ] || return 0
  grep -qx "JOB_ID=${SLURM_JOB_ID:-}" "$ENDPOINTS_FILE" 2>/dev/null || { PUBLISHED=""; write_endpoints; }
}

at_time_limit() {  # the end-of-time signal: hand over to a running successor, or requeue
  [ "$TAKEN_OVER" = 1 ] || return 0  # a successor that never took over: its predecessor still serves
  if [ -n "$SUCCESSOR" ] && [ "$SUCCESSOR" != none ] && [[ $(job_state "$SUCCESSOR") =~ ^(R|CF)$ ]]; then
    [ "$NEO4J_RELEASED" = 1 ] || release_neo4j
    FINAL_REASON="time limit: successor $SUCCESSOR takes over"
    return 0
  fi
  [ -n "$SUCCESSOR" ] && [ "$SUCCESSOR" != none ] && scancel "$SUCCESSOR"
  FINAL_REASON="no successor could start before the time limit (${HANDOVER:-no hand-over}): requeued"
  REQUEUE_AT_END=1
}
