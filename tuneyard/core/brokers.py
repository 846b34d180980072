"""The two Dramatiq brokers Tuneyard runs on, made cheap while idle and prompt when a message comes.

Dramatiq's consumers poll: an idle Redis consumer runs a Lua fetch every `timeout` ms on every queue (and its
delay queue), so a short timeout costs a worker a sixth of a core doing nothing, and a long one delays every new
job. Here an idle consumer waits up to `timeout` ms (TUNEYARD_WORKER_POLL_MS) for a wake-up instead:

- Redis: whoever sends a message publishes its queue's name on `<namespace>:queue-wakeups`; one listener thread
  per worker process wakes the consumer of that queue. A lost notice (Redis restarting) costs one idle wait.
- RabbitMQ pushes messages to its consumers, so there is nothing to wake; the idle wait only bounds how long the
  consumer goes without looking at the delayed messages it holds.

Either way a consumer of a delay queue holds each delayed message until it is due, so it never waits past the
earliest due time of those (a job that polls its provider every 0.3 s is polled every 0.3 s).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import pika.exceptions
import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from tuneyard.core import outages

log = logging.getLogger(__name__)

MIN_WAIT = 0.001  # seconds: a delayed message already due is re-sent after the current pass, not in a busy loop
LISTEN_RETRY = 1.0  # seconds between attempts to subscribe again after the wake-up listener lost Redis


class DueTimes:
    """When each delayed message a consumer handed to its thread is due (the thread holds it until then)."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}  # message id -> eta (ms since the epoch)
        self._lock = threading.Lock()

    def held(self, message: Message[Any] | MessageProxy) -> None:
        eta = message.options.get("eta")
        if isinstance(eta, int | float):
            with self._lock:
                self._due[message.message_id] = eta

    def released(self, message: Message[Any] | MessageProxy) -> None:
        with self._lock:
            self._due.pop(message.message_id, None)

    def wait_seconds(self, idle_ms: int) -> float:
        """How long an idle consumer may wait: `idle_ms`, or less when a message it holds is due sooner."""
        with self._lock:
            first = min(self._due.values(), default=None)
        if first is None:
            return idle_ms / 1000
        return max(MIN_WAIT, min(idle_ms, first - time.time() * 1000) / 1000)


class Wakeups:
    """Redis pub/sub notices that a queue has a new message: each consumer of this process waits on its queue's."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.client = client
        self.channel = channel
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self, queue_name: str) -> None:
        """Tell every worker of `queue_name` to look now (sent after the message; if it is lost, they poll)."""
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            self.client.publish(self.channel, queue_name)

    def poke(self, queue_name: str) -> None:
        """Wake this process's consumer of `queue_name` (a message was acknowledged: it may take another)."""
        event = self._events.get(queue_name)
        if event is not None:
            event.set()

    def wait(self, queue_name: str, seconds: float) -> None:
        """Wait up to `seconds` for a notice about `queue_name`; a notice that came since the last wait counts."""
        event = self._event(queue_name)
        event.wait(seconds)
        event.clear()

    def _event(self, queue_name: str) -> threading.Event:
        with self._lock:
            event = self._events.get(queue_name)
            if event is None:
                # Set: the first wait returns at once, so a message sent before the listener subscribed is fetched.
                event = self._events[queue_name] = threading.Event()
                event.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="queue-wakeups", daemon=True)
                self._thread.start()
            return event

    def _listen(self) -> None:
        while not self._stopping.is_set():
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while not self._stopping.is_set():
                    notice = pubsub.get_message(timeout=1.0)
                    if notice is None:
                        continue
                    if notice["type"] == "subscribe":  # from now on no notice is missed: fetch what came before
                        self._wake_all()
                    elif notice["type"] == "message":
                        self.poke(notice["data"].decode())
            except (redis.ConnectionError, redis.TimeoutError) as error:
                outages.report(outages.REDIS, error)  # one line per outage; the consumers poll meanwhile
                self._wake_all()
                self._stopping.wait(LISTEN_RETRY)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()

    def _wake_all(self) -> None:
        for event in list(self._events.values()):
            event.set()

    def close(self) -> None:
        self._stopping.set()
        self._wake_all()
        if self._thread is not None:
            self._thread.join(5)


class WakingRedisBroker(RedisBroker):
    """Dramatiq's Redis broker whose idle consumers wait for a wake-up notice instead of polling."""

    def __init__(self, *, client: redis.Redis, namespace: str, **options: Any) -> None:
        super().__init__(client=client, namespace=namespace, **options)
        self.wakeups = Wakeups(client, f"{namespace}:queue-wakeups")

    @property
    def consumer_class(self) -> type[_WakingRedisConsumer]:
        return _WakingRedisConsumer

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        sent = super().enqueue(message, delay=delay)
        self.wakeups.notify(sent.queue_name)  # the delay queue's name for a delayed message
        return sent

    def close(self) -> None:
        self.wakeups.close()
        super().close()


class _WakingRedisConsumer(_RedisConsumer):
    """Fetches as Dramatiq's does; when there is nothing to take, waits for a notice rather than backing off."""

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self.wakeups = broker.wakeups
        self.due = DueTimes()

    def __next__(self) -> MessageProxy | None:
        try:
            if not self.message_cache and self.outstanding_message_count < self.prefetch:
                wanted = self.prefetch - self.outstanding_message_count
                self.message_cache = self.broker.do_fetch(self.queue_name, wanted)
            while self.message_cache:
                data = self.message_cache.pop(0)
                if data is None:  # Dramatiq's consumer skips these too (its issue #266)
                    continue
                message = Message.decode(data)
                self.queued_message_ids.add(message.message_id)
                self.due.held(message)
                return MessageProxy(message)
        except redis.ConnectionError as error:
            raise ConnectionClosed(error) from None
        self.wakeups.wait(self.queue_name, self.due.wait_seconds(self.timeout))
        return None

    def ack(self, message: MessageProxy) -> None:
        try:
            super().ack(message)
        finally:
            self._released(message)

    def nack(self, message: MessageProxy) -> None:
        try:
            super().nack(message)
        finally:
            self._released(message)

    def _released(self, message: MessageProxy) -> None:
        self.due.released(message)
        self.wakeups.poke(self.queue_name)  # a prefetch slot is free: look for the next message now


class PromptRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker whose delay-queue consumers wake when a message they hold is due."""

    @property
    def consumer_class(self) -> type[_PromptRabbitmqConsumer]:
        return _PromptRabbitmqConsumer


class _PromptRabbitmqConsumer(_RabbitmqConsumer):
    def __init__(self, broker: RabbitmqBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self.idle_ms = timeout
        self.due = DueTimes()

    def __next__(self) -> MessageProxy | None:
        # pika resumes the channel's one consumer for each call of consume(), with this call's inactivity timeout.
        self.iterator = self.channel.consume(self.queue_name, inactivity_timeout=self.due.wait_seconds(self.idle_ms))
        message: MessageProxy | None = super().__next__()
        if message is not None:
            self.due.held(message)
        return message

    def ack(self, message: MessageProxy) -> None:
        self.due.released(message)
        super().ack(message)

    def nack(self, message: MessageProxy) -> None:
        self.due.released(message)
        super().nack(message)


# What a failed send to RabbitMQ raises (Dramatiq retries a few times first; pika wraps socket errors).
RABBITMQ_ERRORS: tuple[type[BaseException], ...] = (pika.exceptions.AMQPError, ConnectionClosed)
