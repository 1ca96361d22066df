"""The soak checker finds each kind of violation planted in a small history,
and finds none in the clean one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from bench.soak.check import check, main
from bench.soak.history import write_lines
from tests.soak.histories import Story, added, choices, clean, event, listed, renamed, server


def kinds(story: Story) -> set[str]:
    return check(story.history()).kinds()


def test_a_clean_history_has_no_violations() -> None:
    report = check(clean().history())
    assert report.violations == []
    assert report.counts["events"] == 4
    assert report.counts["acknowledged"] == 4
    assert report.counts["deliveries"] == 5


def test_an_acknowledged_add_missing_from_the_log_is_lost() -> None:
    story = clean()
    story.mutation("r9", "addMailServer", {"code": "gamma"}, {"server": server("s9", "gamma"), "errors": []}, 5.0)
    assert kinds(story) == {"lost"}


def test_an_acknowledged_change_whose_version_never_existed_is_lost() -> None:
    story = clean()
    story.mutation("r9", "changeMailServer", {"id": "s2", "name": "x"}, {"server": server("s2", "beta", 2)}, 5.0)
    assert "lost" in kinds(story)


def test_an_event_no_request_caused_is_a_phantom() -> None:
    story = clean()
    story.log.append(renamed(5, "nobody", "s2", 2, "Server beta", "Ghost"))
    assert "phantom" in kinds(story)


def test_an_event_of_another_kind_than_its_request_is_a_phantom() -> None:
    story = clean()
    story.mutation("r9", "deleteMailServer", {"id": "s2"}, None, 5.0)
    story.log.append(renamed(5, "r9", "s2", 2, "Server beta", "Ghost"))
    assert "phantom" in kinds(story)


def test_a_rejected_mutation_that_appended_is_half_applied() -> None:
    story = clean()
    rejected = next(r for r in story.records if r.get("rid") == "r3")
    rejected.update(outcome="rejected", payload=None, codes=["VERSION_CONFLICT"])
    assert "half-applied" in kinds(story)


def test_a_truncated_request_that_appended_is_half_applied() -> None:
    story = clean()
    story.mutation("r9", "addMailServer", {"code": "gamma"}, None, 5.0, outcome="truncated")
    story.log.append(added(5, "r9", "s9", "gamma"))
    assert "half-applied" in kinds(story)


def test_a_request_whose_events_are_split_by_another_is_half_applied() -> None:
    story = clean()
    story.mutation("r9", "restoreMailServers", {"asOf": "1"}, None, 5.0)
    story.mutation("r8", "changeMailServer", {"id": "s2", "name": "x"}, None, 5.0)
    story.log += [
        event(5, "r9", "ServerDeleted", "s2", 2, code="beta", name="Server beta"),
        renamed(6, "r8", "s1", 3, "Renamed", "x"),
        renamed(7, "r9", "s1", 4, "x", "Server alpha"),
    ]
    assert "half-applied" in kinds(story)


def test_a_cut_off_restore_that_stopped_short_of_its_target_is_half_applied() -> None:
    story = clean()
    story.mutation("r9", "restoreMailServers", {"asOf": "1"}, None, 5.0)
    story.log.append(event(5, "r9", "ServerDeleted", "s2", 2, code="beta", name="Server beta"))
    assert "half-applied" in kinds(story)


def test_two_acknowledged_changes_at_one_version_are_two_winners() -> None:
    story = clean()
    story.mutation(
        "r9",
        "changeMailServer",
        {"id": "s1", "expectedVersion": 1, "name": "Other"},
        {"server": server("s1", "alpha", 2, "Other"), "errors": []},
        3.0,
    )
    assert "two-winners" in kinds(story)


def test_a_change_appended_over_a_version_it_did_not_expect_is_a_second_winner() -> None:
    story = clean()
    story.mutation(
        "r9",
        "changeMailServer",
        {"id": "s2", "expectedVersion": 0, "name": "Late"},
        {"server": server("s2", "beta", 2, "Late"), "errors": []},
        5.0,
    )
    story.log.append(renamed(5, "r9", "s2", 2, "Server beta", "Late"))
    assert "two-winners" in kinds(story)


def test_two_live_servers_with_one_code_are_found() -> None:
    story = clean()
    story.mutation("r9", "addMailServer", {"code": "beta"}, None, 5.0)
    story.log.append(added(5, "r9", "s9", "beta"))
    assert "duplicate-code" in kinds(story)


def test_an_idempotent_retry_that_appended_twice_is_found() -> None:
    story = clean()
    for rid in ("r1", "r2"):
        next(r for r in story.records if r.get("rid") == rid).update(idem="k1", input={"code": "same"})
    assert "idempotency" in kinds(story)


def test_an_idempotent_retry_answered_differently_is_found() -> None:
    story = clean()
    first = next(r for r in story.records if r.get("rid") == "r1")
    first["idem"] = "k1"
    retry = copy.deepcopy(first)
    retry.update(rid="r9", sent=5.0, received=5.1)
    retry["payload"]["server"]["name"] = "Something else"
    story.records.append(retry)
    assert "idempotency" in kinds(story)


def test_a_key_reused_with_other_input_and_acknowledged_is_found() -> None:
    story = clean()
    first = next(r for r in story.records if r.get("rid") == "r1")
    first["idem"] = "k1"
    story.mutation(
        "r9", "addMailServer", {"code": "other"}, {"server": server("s1", "alpha"), "errors": []}, 5.0, idem="k1"
    )
    assert "idempotency" in kinds(story)


def subscriber_story(positions: list[int], resume_after: int | None = None) -> Story:
    story = clean()
    story.records = [r for r in story.records if r["client"] != "sub-0-events"]
    story.subscribe("sub-0-events", "mailServerEvents", 1.5, after=1)
    for n, position in enumerate(positions):
        if resume_after is not None and n == 1:
            story.subscribe("sub-0-events", "mailServerEvents", 2.5, after=resume_after, connection=2)
        node = copy.deepcopy(next(e for e in story.log if e["position"] == str(position)))
        story.deliver("sub-0-events", "mailServerEvents", node, 2 + n)
    return story


def test_a_subscriber_that_missed_an_event_is_found() -> None:
    assert kinds(subscriber_story([2, 4])) == {"subscriber"}


def test_a_subscriber_that_got_an_event_twice_is_found() -> None:
    assert kinds(subscriber_story([2, 3, 3, 4])) == {"subscriber"}


def test_a_subscriber_that_got_events_out_of_order_is_found() -> None:
    assert kinds(subscriber_story([2, 4, 3])) == {"subscriber"}


def test_a_subscriber_that_resumed_from_the_wrong_place_is_found() -> None:
    assert kinds(subscriber_story([2, 4], resume_after=3)) == {"subscriber"}


def test_a_subscriber_resuming_after_its_last_event_is_fine() -> None:
    assert kinds(subscriber_story([2, 3, 4], resume_after=2)) == set()


def test_a_subscriber_that_stopped_short_of_the_log_missed_events() -> None:
    assert kinds(subscriber_story([2, 3])) == {"subscriber"}


def test_a_choices_subscriber_sent_an_older_list_is_found() -> None:
    story = clean()
    story.deliver("sub-0-choices", "mailServerChoicesChanged", choices(story.timeline(), 1), 4.3)
    assert "subscriber" in kinds(story)


def test_a_read_older_than_an_acknowledged_write_is_stale() -> None:
    story = clean()
    story.read("mailServers", listed(story.timeline(), 2), 3.5)
    assert kinds(story) == {"stale-read"}


def test_a_read_older_than_a_read_on_another_instance_is_stale() -> None:
    story = clean()
    # Nothing but reader-1's read proves position 4 visible: the reorder's answer was lost.
    next(r for r in story.records if r.get("rid") == "r4").update(outcome="cut", payload=None)
    story.records = [r for r in story.records if r["client"] not in ("sub-0-events", "reader-1")]
    assert kinds(story) == set()
    story.read("mailServers", listed(story.timeline(), 4), 5.0, client="reader-1")
    story.records[-1]["instance"] = 0
    story.read("mailServers", listed(story.timeline(), 3), 6.0, client="reader-0")
    assert kinds(story) == {"stale-read"}


def test_choices_older_than_an_acknowledged_write_are_stale() -> None:
    story = clean()
    story.read("mailServerChoices", choices(story.timeline(), 1), 2.5)
    assert kinds(story) == {"stale-read"}


def test_an_events_page_ending_before_an_acknowledged_write_is_stale() -> None:
    story = clean()
    page = {"edges": [{"node": copy.deepcopy(story.log[1])}], "pageInfo": {"hasNextPage": False}}
    story.read("events", page, 4.5, first=10, after="1")
    assert kinds(story) == {"stale-read"}


def test_a_list_that_never_existed_is_a_wrong_answer() -> None:
    story = clean()
    bogus = listed(story.timeline(), 4)
    bogus["items"][0]["name"] = "Never"
    story.read("mailServers", bogus, 5.0)
    assert kinds(story) == {"wrong-answer"}


def test_an_as_of_list_unlike_the_log_is_a_wrong_answer() -> None:
    story = clean()
    story.read("mailServersAsOf", listed(story.timeline(), 4), 5.0, position="2")
    assert kinds(story) == {"wrong-answer"}


def test_mailreg_check_failing_is_found() -> None:
    story = clean()
    story.final["check"] = {"exit": 1, "output": "read model differs"}
    assert kinds(story) == {"check"}


def test_a_read_model_unlike_its_rebuild_is_found() -> None:
    story = clean()
    story.final["after_rebuild"] = listed(story.timeline(), 3)
    assert kinds(story) == {"check"}


def test_the_command_line_checks_a_saved_run_and_fails_with_its_seed(tmp_path: Path) -> None:
    story = clean()
    story.final["check"] = {"exit": 1, "output": "broken"}
    (tmp_path / "history").mkdir()
    write_lines(tmp_path / "history" / "all.jsonl", story.records)
    write_lines(tmp_path / "log.jsonl", story.log)
    (tmp_path / "final.json").write_text(json.dumps(story.final))
    assert main([str(tmp_path)]) == 1
    story.final["check"] = {"exit": 0, "output": "ok"}
    (tmp_path / "final.json").write_text(json.dumps(story.final))
    assert main([str(tmp_path)]) == 0


def cut_off_rename(to: str) -> Story:
    """The clean story plus a cut-off rename of s2 to "Asked" that appended a rename to `to`."""
    story = clean()
    story.mutation("r9", "changeMailServer", {"id": "s2", "name": "Asked"}, None, 5.0)
    story.log.append(renamed(5, "r9", "s2", 2, "Server beta", to))
    end = listed(story.timeline(), 5)
    story.final.update(final_lists=[end], before_rebuild=end, after_rebuild=end)
    story.records = [r for r in story.records if r["client"] not in ("sub-0-events", "sub-0-choices")]
    return story


def test_an_event_unlike_what_its_request_asked_is_a_phantom() -> None:
    assert kinds(cut_off_rename("Something else")) == {"phantom"}


def test_a_cut_off_change_that_did_what_it_asked_is_fine() -> None:
    assert kinds(cut_off_rename("Asked")) == set()


def test_a_version_conflict_on_a_server_that_never_moved_is_a_wrong_answer() -> None:
    story = clean()
    story.mutation(
        "r9",
        "changeMailServer",
        {"id": "s2", "expectedVersion": 1, "name": "x"},
        None,
        5.0,
        outcome="rejected",
        codes=["VERSION_CONFLICT"],
    )
    assert kinds(story) == {"wrong-answer"}


def test_a_version_conflict_on_a_server_that_moved_is_fine() -> None:
    story = clean()
    story.mutation(
        "r9",
        "changeMailServer",
        {"id": "s1", "expectedVersion": 1, "name": "x"},
        None,
        2.5,
        outcome="rejected",
        codes=["VERSION_CONFLICT"],
    )
    assert kinds(story) == set()


def test_not_found_for_a_live_server_is_a_wrong_answer() -> None:
    story = clean()
    story.mutation("r9", "deleteMailServer", {"id": "s2"}, None, 5.0, outcome="rejected", codes=["NOT_FOUND"])
    assert kinds(story) == {"wrong-answer"}


def test_an_event_that_occurred_before_its_predecessor_breaks_the_log() -> None:
    story = clean()
    story.log[2]["occurredAt"] = "2026-11-30T10:00:01+00:00"
    story.log[3]["occurredAt"] = "2026-11-30T10:00:00+00:00"
    assert "log-rule" in kinds(story)


def test_a_stream_version_skipped_breaks_the_log() -> None:
    story = clean()
    story.log[2]["streamVersion"] = 3
    assert "log-rule" in kinds(story)


def test_an_as_of_time_list_unlike_the_log_is_a_wrong_answer() -> None:
    story = clean()
    for n, node in enumerate(story.log, start=1):
        node["occurredAt"] = f"2026-11-30T10:00:0{n}+00:00"
    for record in story.records:
        if record.get("type") == "next" and record["field"] == "mailServerEvents":
            record["data"]["occurredAt"] = story.log[int(record["data"]["position"]) - 1]["occurredAt"]
        if record.get("op") == "events":
            for edge in record["result"]["edges"]:
                edge["node"]["occurredAt"] = story.log[int(edge["node"]["position"]) - 1]["occurredAt"]
    story.read("mailServersAsOf", listed(story.timeline(), 3), 5.0, at="2026-11-30T10:00:03.5+00:00")
    assert kinds(story) == set()
    story.read("mailServersAsOf", listed(story.timeline(), 3), 5.0, at="2026-11-30T10:00:02.5+00:00")
    assert kinds(story) == {"wrong-answer"}
