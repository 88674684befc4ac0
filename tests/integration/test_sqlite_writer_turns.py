"""On SQLite, a process's writers take turns in arrival order.

A thread that commits and begins again at once (the worker draining chunk after chunk)
used to win every race for SQLite's one writer against threads asleep in SQLite's busy
handler: in the demo a reviewer's sign-in waited out the whole drain and then failed with
"database is locked". Now a writer that asks while the lock is held gets it next.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from orderops.storage.engine import SQLITE_BEGIN_OPTION, make_engine
from orderops.storage.migrate import current_revisions, expected_heads, upgrade
from orderops.storage.sqlite_writers import WriterQueue, in_background

IMMEDIATE = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}


def test_a_writer_asking_during_a_busy_loop_writes_next(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE log (n INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT)"))
    asked = threading.Event()
    done = threading.Event()

    def busy_loop() -> None:
        """Commit and begin again at once, as a draining worker does, until the other wrote."""
        rounds = 0
        while not done.is_set() and rounds < 500:
            with engine.connect().execution_options(**IMMEDIATE) as connection, connection.begin():
                connection.execute(text("INSERT INTO log (who) VALUES ('loop')"))
                if rounds == 5:
                    asked.set()
                    done.wait(0.05)  # the other writer asks while this one holds the lock
            rounds += 1

    def one_write() -> None:
        asked.wait()
        with engine.connect().execution_options(**IMMEDIATE) as connection, connection.begin():
            connection.execute(text("INSERT INTO log (who) VALUES ('reviewer')"))
        done.set()

    threads = [threading.Thread(target=busy_loop), threading.Thread(target=one_write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    with engine.connect() as connection:
        order = [row[0] for row in connection.execute(text("SELECT who FROM log ORDER BY n"))]
    engine.dispose()
    # The loop's sixth transaction held the lock when the reviewer asked; the reviewer's
    # write is the very next one (before, the loop's next transactions came first).
    assert order.index("reviewer") == 6
    assert order[:6] == ["loop"] * 6


def test_the_turn_passes_in_arrival_order_and_a_timed_out_waiter_leaves_the_queue() -> None:
    queue = WriterQueue(timeout=0.2)
    assert queue.enter() is True  # the main thread holds the turn
    assert queue.enter() is False  # asking again from the holder never waits on itself
    order: list[str] = []

    def writer(name: str) -> None:
        got = queue.enter()
        order.append(f"{name}:{got}")
        if got:
            queue.leave()

    impatient = threading.Thread(target=writer, args=("impatient",))
    impatient.start()
    impatient.join()  # waited 0.2 s for a turn the holder never gave
    assert order == ["impatient:False"]

    queue = WriterQueue(timeout=30)
    queue.enter()
    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=writer, args=(name,))
        thread.start()
        threads.append(thread)
        while not queue._waiting or queue._waiting[-1][0] != thread.ident:
            threading.Event().wait(0.001)
    queue.leave()
    for thread in threads:
        thread.join(timeout=10)
    assert order[1:] == ["first:True", "second:True", "third:True"]


def test_a_request_waiting_to_write_goes_before_background_work_that_asked_first() -> None:
    queue = WriterQueue(timeout=30)
    queue.enter()
    order: list[str] = []

    def writer(name: str, *, background: bool) -> None:
        if background:
            in_background()
        queue.enter()
        order.append(name)
        queue.leave()

    threads = []
    for name, background in (("worker chunk", True), ("next chunk", True), ("sign-in", False)):
        thread = threading.Thread(target=writer, args=(name,), kwargs={"background": background})
        thread.start()
        threads.append(thread)
        while not any(t[0] == thread.ident for t in [*queue._waiting, *queue._behind]):
            threading.Event().wait(0.001)
    queue.leave()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["sign-in", "worker chunk", "next chunk"]


def test_a_migration_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    """A migration begun deferred read the schema, and when another connection (the usage
    meter's flush) committed before its first ALTER, SQLite refused that ALTER at once
    with "database is locked". Begun immediate, the other writer waits instead."""
    path = tmp_path / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, "0046_agent_tools")
    others: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _another_writer_commits(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if others or not statement.lstrip().upper().startswith(("ALTER", "CREATE")):
            return
        other = sqlite3.connect(path, timeout=0.2)
        try:
            other.execute("CREATE TABLE IF NOT EXISTS meter_flush (n INTEGER)")
            other.commit()
            others.append("committed")
        except sqlite3.OperationalError as error:
            others.append(str(error))
        finally:
            other.close()

    upgrade(engine)

    assert current_revisions(engine) == expected_heads()
    assert others == ["database is locked"]  # it waited for the migration, not the reverse
    engine.dispose()
