"""Which queued ratings to send, and when they may leave the queue: end-to-end confirmation.

A rating leaves the outbox (on the device, the flash journal) only when the COLLECTOR
confirms it committed it (protocol: ack), not on the broker's PUBACK: a broker that loses
its store, its queue or the collector's session then costs a resend, never a rating. A
queued rating is in one of three states, the last two kept in RAM only (after a reboot
everything in the journal is unsent):
  unsent -> in flight (PUBLISH sent, waiting for PUBACK: `_in_flight`, packet id -> key)
         -> sent (PUBACKed, waiting for the confirmation: `_sent`, key -> resend deadline)
         -> confirmed: removed from the outbox.
A new session (reset) makes every unconfirmed rating unsent again, so it goes again with
the same id; the collector stores each id once. A sent rating whose confirmation did not
come within confirm_ms of its PUBACK goes again on the same link.

Bounds (RAM and the broker's queue): only the oldest `window` records of the outbox (20 by
default) are ever in flight or sent, so `_sent` stays that small. The first timeout after
confirmations were flowing resends every overdue rating (the broker lost them). If that
brings no confirmation either, the collector is down or far behind, and copies would only
fill the broker's queue: from then on one round timer replaces the records' deadlines, each
round sends one copy (the oldest sent rating) as a probe, and the round doubles each time up
to 16 times (16 min with the default 60 s). The next confirmation sets the timeout back and
makes every unconfirmed rating due within it. So a collector down for three days costs about
270 copies per device in the broker's queue, not a copy of every rating every minute.

The queue is looked at only when something changed (a record, a PUBACK, a confirmation, the
held record, a new session) or a deadline came, not every 10 ms loop step: first(n) copies
the window. MicroPython compatible; no allocation beyond the small dicts and that copy.
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

_BACKOFF_MAX = const(4)  # the confirmation timeout doubles at most 4 times (16x)


class Sender:
    def __init__(self, outbox, max_in_flight=10, window=20, confirm_ms=60000):
        self.outbox = outbox
        self.max_in_flight = max_in_flight
        self.window = window
        self.confirm_ms = confirm_ms
        self._in_flight = {}  # packet id -> record key (None once confirmed), awaiting PUBACK
        self._sent = {}  # record key -> uptime ms at which it goes again without confirmation
        self._backoff = 0  # doublings of confirm_ms since the last confirmation
        self._probe_at = 0  # while probing a silent collector: when the next round's copy goes
        self._pump_at = 0  # next uptime the queue may have something to send; None: on an event
        self._pump_held = None  # the held record when the queue was last looked at
        # Counters (status, diagnostics, tests).
        self.sent_acked = 0  # PUBACKs of ratings
        self.confirmed = 0  # ratings confirmed by the collector, removed from the outbox
        self.resent = 0  # ratings sent again after their confirmation timed out
        self.stale_confirmations = 0  # confirmed seqs no longer queued (a repeated ack)

    @property
    def awaiting(self):
        """Ratings PUBACKed by the broker, not yet confirmed by the collector (this link)."""
        return len(self._sent)

    def _timeout(self):
        return self.confirm_ms << self._backoff

    def drop(self):
        """The link is gone: whatever was in flight or sent goes again on the next session.

        A broker that lost its store (the usual reason for a dropped link) may have lost
        what it PUBACKed.
        """
        self._in_flight = {}
        self._sent = {}

    def reset(self, now):
        """A new session: everything unconfirmed is unsent, and the queue goes from the top."""
        self.drop()
        self._pump_at = now
        # The whole window goes again now: that is this round's copies, if probing.
        self._probe_at = now + self._timeout()

    def touch(self, now):
        """A record was added or amended: look at the queue on the next pump."""
        self._pump_at = now

    def puback(self, pid, now):
        """The broker has the rating published under `pid`; it now waits for confirmation."""
        if pid not in self._in_flight:
            return
        key = self._in_flight.pop(pid)
        self.sent_acked += 1
        self._pump_at = now  # room in flight
        if key is not None:  # None: confirmed while this copy was in flight
            self._sent[key] = now + self._timeout()

    def pump(self, now, held, send):
        """Send what is unsent or overdue among the oldest records, within the bounds.

        held: the key of the record waiting for its reason (held back; those behind it may
        go). send(rec) publishes a record and returns its packet id, or None when the link
        dropped.
        """
        due = self._pump_at
        if (due is None or now < due) and held == self._pump_held:
            return
        self._pump_held = held
        self._pump_at = None
        limit = self.max_in_flight
        if len(self._in_flight) >= limit or not len(self.outbox):
            return  # a PUBACK or a new record brings us back
        flying = list(self._in_flight.values())  # at most max_in_flight keys
        # Probing: the last round of resends got no confirmation; the round timer decides.
        probing = self._backoff > 0
        overdue = False
        for rec in self.outbox.first(self.window):
            key = (rec[0], rec[1])
            if key in flying or key == held:
                continue
            deadline = self._sent.get(key)
            if deadline is not None:
                if probing:
                    deadline = self._probe_at
                if (overdue and probing) or now < deadline:
                    if self._pump_at is None or deadline < self._pump_at:
                        self._pump_at = deadline
                    continue
            if len(self._in_flight) >= limit:
                break  # the next PUBACK brings us back
            pid = send(rec)
            if pid is None:
                return  # link dropped; the next session starts over
            self._in_flight[pid] = key
            if deadline is not None:
                # No confirmation in time: the broker may have lost it, or the collector is
                # down or behind. Sent again, same id; the collector stores it once.
                del self._sent[key]
                self.resent += 1
                if not overdue:
                    overdue = True  # one round: the timeout doubles once
                    if self._backoff < _BACKOFF_MAX:
                        self._backoff += 1
                    self._probe_at = now + self._timeout()
        if len(self._sent) > 2 * self.window:
            self._forget_gone()

    def _forget_gone(self):
        """Drop `_sent` keys no longer in the window (e.g. dropped by a full outbox)."""
        keep = {}
        for rec in self.outbox.first(self.window):
            key = (rec[0], rec[1])
            if key in self._sent:
                keep[key] = self._sent[key]
        self._sent = keep

    def confirm(self, boot, seqs, now):
        """The collector committed these ratings of `boot`: they leave the outbox."""
        for seq in seqs:
            key = (boot, seq)
            if self.outbox.remove(key):
                self.confirmed += 1
            else:
                self.stale_confirmations += 1  # a repeated ack, or a rating already confirmed
            self._sent.pop(key, None)
            for pid in list(self._in_flight):
                if self._in_flight[pid] == key:
                    self._in_flight[pid] = None  # its PUBACK must not put it back in _sent
        # The collector is there: timeouts back to confirm_ms, and whatever was waiting on a
        # longer one is due by then.
        if self._backoff:
            self._backoff = 0
            latest = now + self._timeout()
            for key in list(self._sent):
                if self._sent[key] > latest:
                    self._sent[key] = latest
        self._pump_at = now
