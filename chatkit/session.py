"""One person's chat session, without Streamlit: the policy behind every turn and every save.

A ``ChatSession`` decides which key a provider is called with (a key typed in this session,
else the host's, but the host's only for the host's own endpoint), keeps this session's
providers and local response store, wraps them for a hosted demo (a time limit on a model
that loads in process, the visitor's quota on every call that spends the host's resources),
decides what is saved (a conversation another tab changed first becomes a copy; a hosted
visitor past the storage caps keeps it open but unsaved), and holds the ``TurnQueue`` of the
open conversation, to which it hands turns built from the sidebar's ``Settings``.

The app keeps one per browser session (``chatkit.ui.state``) and, at the start of every script
run, hands it what that run read: ``config``, the stores, and who the person is (``owner``:
whose conversations; ``visitor``: whom a hosted demo's quotas count). A key typed into the
sidebar lives only in the page's widget state: it arrives as an argument with each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from chatkit.config import AppConfig, HostedSettings
from chatkit.conversation import Conversation, new_conversation_id
from chatkit.errors import ChatkitError, SaveConflict, register_secret
from chatkit.hosted import HostedMeter
from chatkit.lessons.calls import CapturedCall
from chatkit.messages import Message
from chatkit.providers import (
    GenerationOptions,
    Provider,
    ProviderSpec,
    ResponseStore,
    make_provider,
    provider_kind,
)
from chatkit.providers.metered import Metered
from chatkit.providers.time_limit import TimeLimited
from chatkit.store import ConversationStore, QuotaStore
from chatkit.summary import summarize_call
from chatkit.turn import DEFAULT_MAX_INPUT_CHARS, TrimmingSettings, reply_info
from chatkit.turn_queue import Failure, TurnJob, TurnQueue, TurnRequest

CALLS_KEPT = 50  # the finished turns a session remembers for the lessons' checks

NO_ALLOWANCE_CHECK = (
    "The demo's database cannot be opened, so its allowance cannot be checked: paste your own "
    "API key in the sidebar, or try again later."
)

SUMMARY_NOTE = "A summary asked for outside the turns (not sent with any of them)."

NOT_YOURS_IN_CLASS = (
    "That conversation belongs to someone else in this class, so it does not open here: a new "
    "conversation is open."
)


# -- the sidebar's choices ----------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Everything the sidebar decides, except the API key."""

    spec: ProviderSpec = field(default_factory=ProviderSpec)
    system_prompt: str = ""
    trimming: TrimmingSettings = field(default_factory=TrimmingSettings)
    options: GenerationOptions = field(default_factory=GenerationOptions)


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    """The sidebar's choices, as saved with the conversation (never a key)."""
    spec, trimming, options = settings.spec, settings.trimming, settings.options
    return {
        "provider": spec.kind,
        "mode": spec.mode,
        "model": spec.model,
        "base_url": spec.base_url,
        "trimming": {
            "strategy": trimming.strategy,
            "last_n": trimming.last_n,
            "max_tokens": trimming.max_tokens,
        },
        "temperature": options.temperature,
        "max_output_tokens": options.max_output_tokens,
    }


# -- the policies, as plain functions -------------------------------------------------------------


def uses_host_key(typed_api_key: str | None) -> bool:
    """True when a call spends the host's resources (its key, its server or its model), so a
    hosted demo's quotas apply: every call unless the visitor typed a key."""
    return not typed_api_key


def storage_refusal(
    target: ConversationStore, value: Conversation, who: str, limits: HostedSettings
) -> str | None:
    """Why a hosted visitor's conversation may not be saved (the caps), or None."""
    count, chars = target.visitor_totals(who, excluding=value.id)
    if value.version == 0 and count >= limits.max_conversations:
        return (
            f"This demo keeps at most {limits.max_conversations} conversations per visitor, so "
            f"this one is not saved: delete an older one in the sidebar to save it."
        )
    if chars + sum(len(m.content) for m in value.messages) > limits.max_stored_chars:
        return (
            f"This demo keeps at most {limits.max_stored_chars:,} characters of conversations "
            f"per visitor, so this one is not saved: delete an older one in the sidebar."
        )
    return None


# -- the session ----------------------------------------------------------------------------------


class ChatSession:
    """One browser session's chat: its providers, its save policy and its turn queue.

    ``config``, ``conversations``, ``quotas``, ``owner`` and ``visitor`` are what the app read
    for the current script run (it sets them again at the start of each one). Without
    ``conversations`` nothing is saved; without ``quotas`` a hosted demo spends nothing of the
    host's. ``visitor`` defaults to ``owner``.
    """

    def __init__(
        self,
        config: AppConfig,
        *,
        owner: str,
        visitor: str | None = None,
        conversations: ConversationStore | None = None,
        quotas: QuotaStore | None = None,
        conversation: Conversation | None = None,
    ) -> None:
        self.config = config
        self.owner = owner
        self.visitor = visitor or owner
        self.conversations = conversations
        self.quotas = quotas
        self._response_store = ResponseStore()
        self._providers: dict[tuple[Any, ...], Provider] = {}
        # The requests this session's turns really sent, newest last: what lessons check.
        self.calls: list[CapturedCall] = []
        self.calls_made = 0  # every call captured so far (``calls`` keeps the last 50)
        opening = (
            conversation if conversation is not None else Conversation()
        )  # an empty one is falsy
        self.queue = TurnQueue(opening, self.save, self._capture)

    @property
    def conversation(self) -> Conversation:
        """The open conversation (the branch on screen)."""
        return self.queue.conversation

    # -- providers --------------------------------------------------------------------------------
    def host_api_key(self, kind_name: str) -> str | None:
        """The host's key for the provider called ``kind_name`` (environment or secrets)."""
        key = self.config.provider_setting(provider_kind(kind_name).api_key_env)
        register_secret(key)
        return key

    def api_key_for(self, spec: ProviderSpec, typed_api_key: str | None = None) -> str | None:
        """The key to use: typed in this session, else the host's - but the host's only for the
        host's own endpoint, never for a base URL chosen in the sidebar."""
        if typed_api_key:
            return typed_api_key
        host_url = self.config.provider_setting(provider_kind(spec.kind).base_url_env)
        if spec.base_url and spec.base_url.rstrip("/") != (host_url or "").rstrip("/"):
            return None
        return self.host_api_key(spec.kind)

    def meter(self) -> HostedMeter | None:
        """The quota meter for this visitor in a hosted demo (None when not hosted, or when the
        database cannot be opened, in which case nothing may spend the host's resources)."""
        if not self.config.hosted or self.quotas is None:
            return None
        return HostedMeter(self.quotas, self.visitor, self.config.limits)

    def provider_for(self, spec: ProviderSpec, typed_api_key: str | None = None) -> Provider:
        """This session's provider for ``spec`` (built once per spec and key); in a hosted
        demo, every call on the host's resources is booked on the visitor's quota.

        Raises ``ChatkitError`` when the host's resources would be spent but the demo's
        database, which keeps the quotas, cannot be opened.
        """
        key = self.api_key_for(spec, typed_api_key)
        hosted, limits = self.config.hosted, self.config.limits
        metering = None
        if hosted and uses_host_key(typed_api_key):
            metering = self.meter()
            if metering is None:
                raise ChatkitError(NO_ALLOWANCE_CHECK)
        cache_key = (spec, hash(key) if key else None, metering is not None)
        if cache_key not in self._providers:
            provider = make_provider(spec, api_key=key, store=self._response_store)
            if hosted and provider_kind(spec.kind).capabilities.loads_in_process:
                provider = TimeLimited(inner=provider, seconds=limits.local_call_seconds)
            if metering is not None:
                provider = Metered(inner=provider, meter=metering)
            self._providers[cache_key] = provider
        return self._providers[cache_key]

    # -- opening and saving -----------------------------------------------------------------------
    def open_saved(self, conversation_id: str) -> Conversation | None:
        """The saved conversation ``conversation_id`` as this person may open it (None when
        nothing is saved under it).

        Each person opens their own; outside a hosted demo, anyone's. A hosted demo opens
        someone else's link as a copy; a class never opens another student's conversation,
        by its id either (``ChatkitError``, one sentence).
        """
        target = self.conversations
        if target is None:
            return None
        loaded = target.load(conversation_id)
        if loaded is None or not self.config.hosted:
            return loaded
        if target.owner_of(conversation_id) == self.owner:
            return loaded
        if self.config.classroom.enabled:
            raise ChatkitError(NOT_YOURS_IN_CLASS)
        # Someone else's link in a public demo: continue on a copy, never on their record.
        loaded.id, loaded.version = new_conversation_id(), 0
        return loaded

    def save(self, value: Conversation) -> tuple[Conversation, str | None]:
        """Save ``value``; returns what to keep showing and what to tell the person (called
        from the turn queue's worker thread too).

        A conversation another tab changed first is saved as a copy, which is what to show;
        a hosted visitor past the storage caps keeps the conversation open but unsaved. The
        store, owner and settings are the latest script run's (read once, here).
        """
        target, owner, config = self.conversations, self.owner, self.config
        if target is None:
            return value, None
        who = self.visitor if config.hosted else None
        try:
            if who is not None:
                refusal = storage_refusal(target, value, who, config.limits)
                if refusal:
                    return value, refusal
            try:
                target.save(value, owner=owner, visitor=who)
            except SaveConflict as conflict:
                copy = value.copy()
                copy.id, copy.version = new_conversation_id(), 0
                copy.title = f"{value.title or 'Untitled'} (copy)"
                target.save(copy, owner=owner, visitor=who)
                return copy, (
                    f"{conflict.message} Your turns are kept in a copy, “{copy.title}”, which is "
                    f"open now; the other tab's version is in the list."
                )
        except ChatkitError as error:
            return value, error.message
        return value, None

    # -- calls beside the turns --------------------------------------------------------------------
    def summarize(self, provider: Provider, messages: Sequence[Message] | None = None) -> str:
        """A summary of the open conversation (or of ``messages`` of it) written by
        ``provider``; the call is kept with the conversation, so its totals count it (and a
        hosted demo's provider books it on the visitor's allowance like a turn)."""
        conversation = self.conversation
        chosen = list(conversation.messages if messages is None else messages)
        result = summarize_call(chosen, provider)
        self.queue.record_call(conversation.id, reply_info(result, note=SUMMARY_NOTE))
        return result.text.strip()

    # -- turns ------------------------------------------------------------------------------------
    def _capture(self, conversation: Conversation, job: TurnJob) -> None:
        """Remember what the turn just kept really sent (from the queue's worker thread)."""
        position = len(conversation.messages) - 1
        reply = conversation.replies.get(position)
        if reply is None:
            return
        try:
            window = job.provider.context_window()
        except ChatkitError:
            window = None
        call = CapturedCall(
            conversation_id=conversation.id,
            reply=reply,
            system_prompt=conversation.system_prompt,
            trimming=job.trimming,
            context_window=window,
        )
        self.calls = [*self.calls[-(CALLS_KEPT - 1) :], call]
        self.calls_made += 1

    def job_for(
        self,
        request: TurnRequest,
        settings: Settings,
        typed_api_key: str | None = None,
        *,
        trimming: TrimmingSettings | None = None,
    ) -> TurnJob:
        """The turn with ``settings`` as they are now (``trimming`` in place of theirs, when
        given); raises ``ChatkitError`` when the provider cannot be used."""
        if trimming is not None:
            settings = replace(settings, trimming=trimming)
        config = self.config
        return TurnJob(
            request=request,
            provider=self.provider_for(settings.spec, typed_api_key),
            trimming=settings.trimming,
            options=settings.options,
            settings=settings_snapshot(settings),
            max_input_chars=(
                config.limits.max_message_chars if config.hosted else DEFAULT_MAX_INPUT_CHARS
            ),
            offer_trim_budget=(
                settings.trimming.max_tokens if settings.trimming.strategy == "none" else None
            ),
        )

    def ask(
        self, request: TurnRequest, settings: Settings, typed_api_key: str | None = None
    ) -> None:
        """Queue a turn: it is taken after every turn asked for before it (a turn that cannot
        be taken at all, say for want of a key, is shown as the queue's failure)."""
        try:
            job = self.job_for(request, settings, typed_api_key)
        except ChatkitError as error:
            self.queue.report(Failure(request, error.message))
            return
        self.queue.submit(job)

    def retry(
        self,
        settings: Settings,
        typed_api_key: str | None = None,
        *,
        trimming: TrimmingSettings | None = None,
    ) -> None:
        """Take the failed turn again, first, with ``settings`` as they are now; the turns that
        waited behind it follow."""
        failure = self.queue.failure
        if failure is None:
            return
        try:
            job = self.job_for(failure.request, settings, typed_api_key, trimming=trimming)
        except ChatkitError as error:
            self.queue.report(Failure(failure.request, error.message))
            return
        self.queue.retry(job)
