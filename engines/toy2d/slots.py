"""A global cap on how many sessions play at once, with a first-come waiting list of bounded length.

The playground's Play trains and draws ~15 frames a second for as long as it runs; a class of
thirty pressing Play together would share a 2-core CPU thirty ways. So at most `capacity`
sessions play at once; the next `waiting` wait their turn, each told how many are ahead of it, and
start by themselves when a place frees; anyone beyond that is told to try again.

    slots = Slots(capacity=4, waiting=8)
    ticket = slots.join()          # None: the waiting list is full
    while not ticket.wait(0.5):    # False while waiting; ticket.ahead() -> places ahead of it
        ...
    ...                            # play
    ticket.leave()                 # frees the place (or the place in the queue) for the next

Plain threading; no torch.
"""

from __future__ import annotations

import itertools
import threading


class Ticket:
    """One session's place: first in the waiting list, then (once admitted) among the players."""

    def __init__(self, slots: Slots, number: int):
        self._slots = slots
        self.number = number
        self.admitted = False
        self.left = False

    def ahead(self) -> int:
        """Waiting sessions ahead of this one (0: next in line, or already playing)."""
        return self._slots._ahead(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until this ticket is admitted or `timeout` s have passed. -> admitted."""
        return self._slots._wait(self, timeout)

    def leave(self) -> None:
        """Give the place back (admitted) or leave the waiting list; the next in line goes in. Idempotent."""
        self._slots._leave(self)


class Slots:
    def __init__(self, capacity: int, waiting: int):
        if int(capacity) < 1 or int(waiting) < 0:
            raise ValueError(f"Slots needs capacity >= 1 and waiting >= 0, not {capacity}, {waiting}")
        self.capacity = int(capacity)    # sessions that play at once
        self.waiting = int(waiting)      # sessions that may wait for a place; more are turned away
        self._cond = threading.Condition()
        self._queue: list[Ticket] = []   # waiting, first come first
        self._playing = 0
        self._numbers = itertools.count()

    def counts(self) -> tuple[int, int]:
        """(playing, waiting) now."""
        with self._cond:
            return self._playing, len(self._queue)

    def join(self) -> Ticket | None:
        """A ticket, admitted at once if a place is free and nobody waits; None if the list is full."""
        with self._cond:
            ticket = Ticket(self, next(self._numbers))
            if not self._queue and self._playing < self.capacity:
                ticket.admitted = True
                self._playing += 1
            elif len(self._queue) < self.waiting:
                self._queue.append(ticket)
            else:
                return None
            return ticket

    def _admit(self) -> None:
        # Holding the condition: hand free places to the head of the queue.
        admitted = False
        while self._queue and self._playing < self.capacity:
            self._queue.pop(0).admitted = True
            self._playing += 1
            admitted = True
        if admitted:
            self._cond.notify_all()

    def _ahead(self, ticket: Ticket) -> int:
        with self._cond:
            return self._queue.index(ticket) if ticket in self._queue else 0

    def _wait(self, ticket: Ticket, timeout: float | None) -> bool:
        with self._cond:
            self._cond.wait_for(lambda: ticket.admitted or ticket.left, timeout)
            return ticket.admitted and not ticket.left

    def _leave(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.left:
                return
            ticket.left = True
            if ticket.admitted:
                self._playing -= 1
            elif ticket in self._queue:
                self._queue.remove(ticket)
            self._admit()
            self._cond.notify_all()


__all__ = ["Slots", "Ticket"]
