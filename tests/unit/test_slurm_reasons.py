"""Why a job waits, or why sbatch refused it: in words, with what to do, for every code the
table knows; a code it does not know is passed on as Slurm wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_console.backends.slurm_reasons import PENDING_REASONS, explain_pending, explain_refusal, reason_code

SLURM = Path(__file__).parent.parent / "fixtures" / "slurm"


@pytest.mark.parametrize("code", ["Resources", "Priority", "QOSMaxGRESPerUser", "ReqNodeNotAvail", "BeginTime",
                                  "Dependency", "JobHeldUser", "JobHeldAdmin", "PartitionTimeLimit", "AssocGrpGRES"])
def test_the_reasons_users_meet_most_are_in_words(code):
    waits = explain_pending(code)
    assert waits is not None and waits.code == code
    assert code not in waits.means and len(waits.means.split()) >= 4 and len(waits.action.split()) >= 2


def test_every_entry_says_what_it_means_and_what_to_do():
    for code, (means, action) in PENDING_REASONS.items():
        assert means and action and means != action, code


@pytest.mark.parametrize("reason,code", [("(ReqNodeNotAvail, UnavailableNodes:gpu-2)", "ReqNodeNotAvail"),
                                         ("ReqNodeNotAvail, Reserved for maintenance", "ReqNodeNotAvail"),
                                         ("Resources", "Resources"), ("", "")])
def test_reason_codes_with_their_details(reason, code):
    assert reason_code(reason) == code


def test_no_reason_is_no_wait_and_an_unknown_one_is_passed_on():
    assert explain_pending("None") is None and explain_pending("") is None
    unknown = explain_pending("FrontEndDown")
    assert unknown is not None and "FrontEndDown" in unknown.means and "man squeue" in unknown.action


def test_a_job_asking_for_more_gpus_than_a_node_has_is_refused_in_words():
    refused = explain_refusal((SLURM / "sbatch_too_many_gpus_22.05.txt").read_text())  # the sandbox's sbatch
    assert refused is not None and "more GPUs" in refused.means and "slurm.gpus" in refused.action
    assert explain_refusal("sbatch: error: something else") is None
