# ---- the job body (2/3): no gap at the time limit ------------------------------------------------
# ROLLOVER_LEAD seconds before its limit the job (the predecessor) submits its successor: the
# same script, to the same partitions, without the singleton dependency. The successor starts
# its embed replicas; once they are ready the predecessor lists them beside its own and stops
# Neo4j cleanly; the successor starts Neo4j on the freed store, takes over the endpoints file,
# and the predecessor stops its replicas and ends by itself. Each job tells the other how far
# it got in a small state file of its own next to the endpoints file; only one of them writes
# the endpoints file at a time. If the successor goes away, the predecessor takes Neo4j back and
# tries again; with no room for a successor it says so, and at its end-of-time signal stops
# cleanly and requeues itself, as before.
PREDECESSOR=${CODEX_PREDECESSOR:-}
[ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && PREDECESSOR=""  # a requeued successor starts on its own
SUCCESSOR=""  # its job id once submitted
HANDOVER=""  # submitted | pending: ... | starting: ... | ready | neo4j-moving | done | failed: ...
TAKEN_OVER=1; [ -n "$PREDECESSOR" ] && TAKEN_OVER=0
NEO4J_RELEASED=0
NEO4J_MOVED=""
STATE_URLS=""
END_EPOCH=0; END_CHECKED=-999; SUCC_CHECKED=-999; TAKEN_AT=-999; NEXT_SUBMIT=0
NEO4J_CLAIM=0  # when the successor claimed the store (its replicas ready): its Neo4j start begins
NEO4J_WAIT=0  # when it saw the store free and launched Neo4j
FAST_UNTIL=0  # until then (SECONDS) the successor looks ten times a second: Neo4j is moving
GONE_SEEN=0  # successive squeue answers that the successor is finished
PRED_STATE=""; PRED_CHECKED=-999; LEAD_CHECKED=0

state_file() { printf '%s.job-%s' "$ENDPOINTS_FILE" "$1"; }

write_state() {  # KEY=VALUE lines about this job, read by the other job of the hand-over
  local f tmp
  f=$(state_file "${SLURM_JOB_ID:-0}"); tmp="$f.tmp$$"
  printf '%s\n' "NODE=$NODE" "PORTS=${EMBED_PORTS[*]:-}" "$@" >"$tmp" && chmod "$ENDPOINTS_MODE" "$tmp" && mv -f "$tmp" "$f"
}

read_state() {  # jobid key
  local f; f=$(state_file "$1")
  [ -r "$f" ] && sed -n "s/^$2=//p" "$f" | tail -n 1
  return 0
}

job_state() {  # jobid: its compact state; GONE when Slurm no longer knows it; ? when squeue failed
  local out
  if out=$(squeue -h -j "$1" -O StateCompact 2>&1); then
    out=$(tr -d ' \n' <<<"$out"); echo "${out:-GONE}"
  elif [[ $out == *"Invalid job id"* ]]; then echo GONE
  else echo "?"; fi
}

finished() {  # a job state that will not serve again
  [[ $1 =~ ^(GONE|CD|CA|F|TO|NF|PR|OOM|BF|DL|RV)$ ]]
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
  [ -z "$SUCCESSOR" ] || [ "$(read_state "$SUCCESSOR" TAKEN)" != 1 ]
}

extra_endpoints() {
  [ -n "$HANDOVER" ] && echo "HANDOVER=$(printf %q "$HANDOVER")"
  [ -n "$SUCCESSOR" ] && echo "SUCCESSOR=$SUCCESSOR"
  [ -n "$PREDECESSOR" ] && echo "PREDECESSOR=$PREDECESSOR"
  [ -n "$NEO4J_MOVED" ] && echo "NEO4J_MOVED=$(printf %q "$NEO4J_MOVED")"
  return 0
}

rollover_tick() {
  if [ "$TAKEN_OVER" = 0 ]; then successor_tick; return 0; fi
  recheck_takeover
  [ "$LEAD_CHECKED" = 1 ] || lead_fits
  [ "$ROLLOVER_LEAD" -gt 0 ] || return 0
  if [ -n "$SUCCESSOR" ]; then predecessor_tick; return 0; fi
  [ "$SECONDS" -ge "$NEXT_SUBMIT" ] && [ "$(seconds_left)" -le "$ROLLOVER_LEAD" ] && submit_successor
  return 0
}

lead_fits() {  # once: a time limit within the lead would hand over at once, and so would every successor
  LEAD_CHECKED=1
  local limit=$(($(seconds_left) + SECONDS))
  if [ "$ROLLOVER_LEAD" -gt 0 ] && [ "$limit" -le "$ROLLOVER_LEAD" ]; then
    event "no hand-over: the time limit (${limit}s) is within rollover_lead (${ROLLOVER_LEAD}s); requeue at the limit"
    ROLLOVER_LEAD=0
  fi
}

submit_successor() {
  local script out
  write_state "NEO4J=held"  # our ports, for a successor that lands on this node
  if script=$(scontrol write batch_script "$SLURM_JOB_ID" - 2>&1); then
    out=$(printf '%s\n' "$script" | grep -v '^#SBATCH --dependency=singleton' |
          sbatch --parsable --partition="$PARTITIONS" --comment="codex-rollover:$SLURM_JOB_ID" \
                 --export="ALL,CODEX_PREDECESSOR=$SLURM_JOB_ID" 2>&1)
  else
    out="cannot read this job's script: $script"
  fi
  if [[ $out =~ ^[0-9]+ ]]; then
    SUCCESSOR=${out%%;*}; HANDOVER="submitted"; GONE_SEEN=0
    event "hand-over: successor $SUCCESSOR submitted, $(seconds_left)s before the limit"
  else  # try again in a minute: one failed sbatch must not cost the hand-over
    NEXT_SUBMIT=$((SECONDS + 60)); HANDOVER="failed: ${out//$'\n'/ }; trying again in 60s"
    event "hand-over $HANDOVER"
  fi
  write_endpoints
}

predecessor_tick() {
  local urls line state
  if [ "$(read_state "$SUCCESSOR" TAKEN)" = 1 ]; then finish_handover; fi
  urls=$(read_state "$SUCCESSOR" EMBED_URLS)
  if [ -n "$urls" ] && [ "$PARTNER_URLS" != "$urls" ]; then
    PARTNER_URLS=$urls; HANDOVER=ready
    event "hand-over: successor $SUCCESSOR is ready ($urls)"
    write_endpoints
  fi
  [ "$NEO4J_RELEASED" = 0 ] && [ "$(read_state "$SUCCESSOR" CLAIMED)" = 1 ] && release_neo4j
  [ $((SECONDS - SUCC_CHECKED)) -ge 10 ] || return 0
  SUCC_CHECKED=$SECONDS  # where the successor stands, in every phase
  state=$(job_state "$SUCCESSOR")
  if finished "$state"; then
    GONE_SEEN=$((GONE_SEEN + 1))
    [ "$GONE_SEEN" -ge 2 ] && successor_lost "$state"  # twice: not one odd answer
    return 0
  fi
  GONE_SEEN=0
  [ -n "$urls" ] && return 0
  line=$(squeue -h -j "$SUCCESSOR" '-O' 'StateCompact:|,Reason:|,NodeList:|' 2>/dev/null) || return 0
  case $state in
    PD) HANDOVER="pending: successor $SUCCESSOR waits ($(cut -d'|' -f2 <<<"$line" | xargs))" ;;
    R|CF) HANDOVER="starting: successor $SUCCESSOR on $(cut -d'|' -f3 <<<"$line" | xargs)" ;;
  esac
  write_endpoints
}

successor_lost() {  # it ended before taking over: take Neo4j back, list our own replicas only
  event "hand-over: successor $SUCCESSOR ended ($1) before taking over; this job serves on"
  rm -f "$(state_file "$SUCCESSOR")"
  SUCCESSOR=""; PARTNER_URLS=""; HANDOVER="failed: the successor ended ($1); trying again in 60s"
  NEXT_SUBMIT=$((SECONDS + 60))
  if [ "$NEO4J_RELEASED" = 1 ] && [ "$RUN_NEO4J" = 1 ]; then
    NEO4J_RELEASED=0; STATE[neo4j]=backoff; NEXT_START[neo4j]=$SECONDS; WHY[neo4j]=""
  fi
  write_state "NEO4J=held"
  write_endpoints
}

release_neo4j() {  # stop Neo4j cleanly so that the successor can open the store
  local stopping; stopping=$(date +%s.%N)  # Bolt goes down here: the successor says for how long
  if [ "$RUN_NEO4J" = 1 ]; then
    HANDOVER=neo4j-moving; READY[neo4j]=0
    WHY[neo4j]="Neo4j is moving to job $SUCCESSOR (hand-over before the time limit)"
    write_endpoints
    event "hand-over: stopping Neo4j for successor $SUCCESSOR"
    [ "${STATE[neo4j]:-}" = running ] && stop_service neo4j "$STOP_TIMEOUT"
    STATE[neo4j]=handed-over  # whatever it was doing (running, backing off): not ours any more
  fi
  NEO4J_RELEASED=1
  write_state "NEO4J=released" "RELEASED_AT=$(date +%s.%N)" "STOPPED_FROM=$stopping"
}

finish_handover() {  # the successor serves: stop our replicas and end (the job COMPLETES)
  local name pids=()
  HANDOVER=done
  event "hand-over done: successor $SUCCESSOR serves; job ${SLURM_JOB_ID:-} ends"
  trap - TERM INT XCPU
  trap '' USR1 USR2
  nap $((DRAIN_SECONDS + 3))  # tools re-read the endpoints file before our replicas go
  for name in "${SERVICES[@]}"; do
    [[ $name == embed* ]] && { stop_service "$name" 30 & pids+=($!); }
  done
  wait "${pids[@]}" 2>/dev/null
  rm -f "$(state_file "${SLURM_JOB_ID:-0}")"
  exit 0
}

successor_tick() {  # before the take-over: report readiness, start Neo4j once the store is free
  local urls pred
  urls=$(ready_urls)
  if [ -n "$urls" ] && [ "$urls" != "$STATE_URLS" ]; then
    STATE_URLS=$urls
    [ "$NEO4J_CLAIM" = 0 ] && claim_store  # the predecessor releases on seeing them
    write_state "EMBED_URLS=$urls" "CLAIMED=1"
    event "successor of $PREDECESSOR: replicas ready ($urls)"
  elif [ "$RUN_EMBED" = 0 ] && [ "$NEO4J_CLAIM" = 0 ]; then  # Neo4j only: nothing to wait for
    claim_store
    write_state "CLAIMED=1"
    event "successor of $PREDECESSOR: claims the Neo4j store"
  fi
  if [ $((SECONDS - PRED_CHECKED)) -ge 5 ]; then PRED_STATE=$(job_state "$PREDECESSOR"); PRED_CHECKED=$SECONDS; fi
  pred=$PRED_STATE
  if finished "$pred"; then  # it ended first (cancelled, failed, out of time): serve what we have
    event "job $PREDECESSOR ended ($pred) before the hand-over finished: taking over as it stands"
    [ "${STATE[neo4j]:-}" = waiting ] && launch_moved_neo4j
    take_over
    return 0
  fi
  if [ "${STATE[neo4j]:-}" = waiting ] && [ "$(read_state "$PREDECESSOR" NEO4J)" = released ]; then
    event "Neo4j store released by job $PREDECESSOR: starting Neo4j"
    launch_moved_neo4j
  fi
  [ "${STATE[neo4j]:-}" = waiting ] && return 0
  serving && take_over
}

take_over() {
  TAKEN_OVER=1; TAKEN_AT=$SECONDS; HANDOVER=done
  if [ "$RUN_NEO4J" = 1 ]; then  # seconds to the tenth; the two nodes' clocks agree through NTP
    NEO4J_MOVED="$(date -u +%H:%M:%SZ) from job $PREDECESSOR ($(neo4j_move_times))"
  fi
  write_state "EMBED_URLS=$STATE_URLS" "TAKEN=1"  # before the file: the predecessor stops writing it
  event "took over from job $PREDECESSOR"
  PUBLISHED=""
  write_endpoints
}

claim_store() {  # the successor's Neo4j start begins: the old job stops its Neo4j on seeing the claim
  NEO4J_CLAIM=$(date +%s.%N); FAST_UNTIL=$((SECONDS + STOP_TIMEOUT + READY_TIMEOUT))
}

launch_moved_neo4j() {  # on the freed store; timed to the tenth of a second, watched closely until it answers
  NEO4J_WAIT=$(date +%s.%N); FAST_UNTIL=$((SECONDS + READY_TIMEOUT))
  launch neo4j
}

neo4j_move_times() {  # the successor's Neo4j start, from its claim on the store (or the release, if
  # that came first) to Bolt answering, in its parts: the old job lets go, its Neo4j stops, this
  # job sees the store free, its Neo4j launches and answers. Bolt is down from the stop on.
  if [ "${READY[neo4j]:-0}" != 1 ]; then echo "Neo4j starting here: the old job ended before the hand-over"; return; fi
  LC_ALL=C awk -v c="$NEO4J_CLAIM" -v w="$NEO4J_WAIT" -v n="$(date +%s.%N)" \
    -v f="$(read_state "$PREDECESSOR" STOPPED_FROM)" -v r="$(read_state "$PREDECESSOR" RELEASED_AT)" 'BEGIN {
      if (w == 0) { printf "Neo4j was running"; exit }
      s = w; if (c > 0 && c < s) s = c; if (f != "" && f < s) s = f
      printf "Neo4j started in %.1fs", n - s
      if (f != "" && r != "") printf " (let go %.1fs, stop %.1fs, seen %.1fs, launch %.1fs)", f - s, r - f, w - r, n - w
      if (f != "") printf "; Bolt down %.1fs", n - f }'
}

tick_pause() {  # seconds to the next pass: a tenth while Neo4j moves (Bolt is down), or is about to
  if [ "$RUN_NEO4J" = 1 ] && [ "${READY[neo4j]:-0}" != 1 ] && [ "$SECONDS" -lt "$FAST_UNTIL" ]; then echo 0.1
  elif [ "$RUN_NEO4J" = 1 ] && [ -n "$SUCCESSOR" ] && [ "$NEO4J_RELEASED" = 0 ] && [[ $HANDOVER == starting* ]]
  then echo 0.25  # the successor may claim the store any moment: let go soon after
  else echo 1; fi
}

recheck_takeover() {  # a predecessor that wrote the file a moment after our take-over loses
  [ -n "$PREDECESSOR" ] && [ $((SECONDS - TAKEN_AT)) -le 15 ] || return 0
  grep -qx "JOB_ID=${SLURM_JOB_ID:-}" "$ENDPOINTS_FILE" 2>/dev/null || { PUBLISHED=""; write_endpoints; }
}

on_cancel() {  # a cancel or requeue of this job takes a successor that has not taken over along
  if [ "$TAKEN_OVER" = 1 ] && [ -n "$SUCCESSOR" ] && [ "$(read_state "$SUCCESSOR" TAKEN)" != 1 ]; then
    scancel "$SUCCESSOR" && log "cancelled successor $SUCCESSOR with this job"
  fi
  rm -f "$(state_file "${SLURM_JOB_ID:-0}")"
}

at_time_limit() {  # the end-of-time signal: hand over to a running successor, or requeue
  if [ "$TAKEN_OVER" = 0 ]; then return 0; fi  # a successor that never took over: its predecessor serves
  if [ -n "$SUCCESSOR" ] && [[ $(job_state "$SUCCESSOR") =~ ^(R|CF)$ ]]; then
    [ "$NEO4J_RELEASED" = 1 ] || release_neo4j
    FINAL_REASON="time limit: successor $SUCCESSOR takes over"
    return 0
  fi
  [ -n "$SUCCESSOR" ] && scancel "$SUCCESSOR"
  FINAL_REASON="no successor could start before the time limit (${HANDOVER:-no hand-over}): requeued"
  REQUEUE_AT_END=1
}

clean_state_files() {  # at start: nothing of an earlier life of this job id is trusted
  rm -f "$(state_file "${SLURM_JOB_ID:-0}")"
}
