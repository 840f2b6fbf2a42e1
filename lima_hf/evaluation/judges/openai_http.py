"""A judge behind any OpenAI-compatible ``/v1/chat/completions`` endpoint: OpenAI, vLLM, TGI, llama.cpp.

Requests run concurrently (a thread pool, ``concurrency`` at a time). Rate limiting (429) and server
errors (5xx, dropped connections, timeouts) are retried with exponential backoff, honouring
``Retry-After``, with a warning naming the endpoint and the wait; when the retry budget is spent the run
stops with :class:`JudgeUnavailableError` and, since every reply already received is saved, the same
command resumes where it stopped. Other HTTP errors (401, 404, 400) stop at once with the server's message.
Only the standard library is used. Kept rather than ``huggingface_hub.InferenceClient(base_url=...)``, which
retries neither 429 (``Retry-After``) nor 5xx and refuses every endpoint, loopback included, when
``HF_HUB_OFFLINE=1`` (``benchmarks/bench_judge_client.py``: neither client was reliably faster).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from lima_hf.evaluation.judges.base import JudgeUnavailableError, ModelJudge
from lima_hf.redaction import redact, register_secret

logger = logging.getLogger(__name__)

RETRIED_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass
class HTTPJudgeArguments:
    """Options of ``--judge http``."""

    api_base: str = field(
        default="https://api.openai.com/v1", metadata={"help": "API root of the endpoint, ending in /v1 (http judge)."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "Environment variable holding the API key (http judge)."}
    )
    concurrency: int = field(default=8, metadata={"help": "Requests in flight at once (http judge)."})
    max_retries: int = field(
        default=6, metadata={"help": "Retries of a rate-limited or failing request (http judge)."}
    )
    judge_timeout: float = field(
        default=120.0,
        metadata={"help": "Seconds one request may take end to end, connection to last byte (http judge)."},
    )
    judge_deadline: float | None = field(
        default=None,
        metadata={"help": "Seconds the judging of a run may take in all, every request, retry and wait included "
                  "(http judge); default: no limit besides --max_retries."},
    )


class OpenAICompatibleJudge(ModelJudge):
    """Chat-completions judge.

    Args:
        model: the model name the endpoint serves (``gpt-4``, the vLLM ``--served-model-name``, ...).
        api_base: the API root, ending in ``/v1`` (``https://api.openai.com/v1``, ``http://localhost:8000/v1``).
        api_key: the key; default: the environment variable ``api_key_env`` (may be unset for local servers).
        concurrency: requests in flight at once.
        temperature: for first attempts (0: deterministic); ``retry_temperature`` for retries of
            unparseable replies, so that they can differ.
        max_tokens: reply length limit.
        max_retries: retries of a rate-limited or failing request before giving up.
        backoff, max_backoff: the first wait in seconds (doubled each retry) and its ceiling.
        timeout: seconds one request may take end to end (connection, headers and a slowly dripped body alike).
        deadline: seconds the judge may take in all from its first request, every request, retry and wait
            included (``None``: no limit).
    """

    def __init__(
        self,
        model: str,
        api_base: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        temperature: float = 0.0,
        retry_temperature: float = 0.7,
        max_tokens: int = 512,
        max_retries: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 120.0,
        deadline: float | None = None,
    ):
        self.model = model
        self.url = api_base.rstrip("/") + "/chat/completions"
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self.concurrency = max(1, int(concurrency))
        self.temperature = temperature
        self.retry_temperature = retry_temperature
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.deadline = deadline
        self._first_request: float | None = None
        self.name = f"{model}@{api_base}"
        register_secret(self.api_key)
        # what the replies depend on (a cache of replies made with other settings is not reused)
        self.fingerprint = {"judge": "http", "model": model, "api_base": api_base.rstrip("/"),
                            "temperature": temperature, "retry_temperature": retry_temperature,
                            "max_tokens": max_tokens}

    Arguments = HTTPJudgeArguments
    needs_model = True

    @classmethod
    def from_arguments(cls, args) -> OpenAICompatibleJudge:
        """The judge of ``lima-hf ... --judge http`` options."""
        return cls(
            args.judge_model, api_base=args.api_base, api_key_env=args.api_key_env, concurrency=args.concurrency,
            max_tokens=args.judge_max_tokens, max_retries=args.max_retries, timeout=args.judge_timeout,
            deadline=args.judge_deadline,
        )

    def _post(self, body: bytes, timeout: float) -> dict:
        """One request, bounded end to end by ``timeout`` seconds: it runs in a daemon thread, since a socket
        timeout bounds each read but not an endpoint that drips a byte at a time."""
        outcome: dict = {}

        def request():
            try:
                outcome["reply"] = self._request(body, timeout)
            except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
                outcome["error"] = err

        thread = threading.Thread(target=request, name="lima-hf-judge-request", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"no complete response within {timeout:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["reply"]

    def _request(self, body: bytes, timeout: float) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            shown = " ".join(raw[:120].decode("utf-8", "replace").split())
            raise JudgeUnavailableError(
                f"{self.url}: the endpoint answered something that is not a JSON reply ({redact(shown)!r}...); "
                "is --api_base the API root ending in /v1?"
            ) from err

    def chat(self, prompt: str, temperature: float | None = None) -> str:
        """One judge reply to ``prompt`` (a user message), with backoff on 429/5xx and connection errors."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": self.temperature if temperature is None else temperature,
                "max_tokens": self.max_tokens,
            }
        ).encode("utf-8")
        if self._first_request is None:
            self._first_request = time.monotonic()
        started = self._first_request
        for retry in range(self.max_retries + 1):
            wait_s = min(self.max_backoff, self.backoff * 2**retry)
            timeout = self.timeout
            if self.deadline is not None:
                timeout = min(timeout, self.deadline - (time.monotonic() - started))
                if timeout <= 0:
                    raise JudgeUnavailableError(
                        f"judge endpoint {self.url}: gave up after {time.monotonic() - started:.0f} s "
                        f"(--judge_deadline {self.deadline:g} s)"
                    )
            try:
                payload = self._post(body, timeout)
                try:
                    return payload["choices"][0]["message"]["content"] or ""
                except (KeyError, IndexError, TypeError) as err:
                    raise JudgeUnavailableError(
                        f"{self.url}: unexpected response shape: {redact(str(payload)[:200])}"
                    ) from err
            except urllib.error.HTTPError as err:
                try:
                    answer = err.read().decode("utf-8", "replace")
                except (OSError, http.client.HTTPException):
                    answer = ""
                detail = redact(" ".join(answer.split())[:300])
                if err.code not in RETRIED_STATUS:
                    raise JudgeUnavailableError(f"{self.url} answered HTTP {err.code}: {detail}") from err
                retry_after = err.headers.get("Retry-After") if err.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait_s = min(self.max_backoff, float(retry_after))
                reason = "rate limited (429)" if err.code == 429 else f"HTTP {err.code}"
            except TimeoutError:
                reason = f"sent no complete response within {timeout:g} s (--judge_timeout {self.timeout:g})"
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as err:
                reason = f"unreachable ({redact(getattr(err, 'reason', None) or type(err).__name__)})"
            if retry == self.max_retries:
                raise JudgeUnavailableError(
                    f"judge endpoint {self.url} {reason}, still failing after {self.max_retries} retries"
                )
            if self.deadline is not None and time.monotonic() - started + wait_s >= self.deadline:
                raise JudgeUnavailableError(
                    f"judge endpoint {self.url} {reason}; gave up after {time.monotonic() - started:.0f} s "
                    f"(--judge_deadline {self.deadline:g} s)"
                )
            logger.warning(
                "judge endpoint %s %s; retrying in %.1f s (%d/%d)",
                self.url,
                reason,
                wait_s,
                retry + 1,
                self.max_retries,
            )
            time.sleep(wait_s)
        raise AssertionError("unreachable")

    def complete(
        self, prompts: Sequence[str], attempt: int = 0, choices: Sequence[str] | None = None
    ) -> Iterator[tuple[int, str]]:
        """Yield ``(index, reply)`` as concurrent requests finish; stops at the first unrecoverable error."""
        temperature = self.temperature if attempt == 0 else self.retry_temperature
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            pending = {pool.submit(self.chat, prompt, temperature): index for index, prompt in enumerate(prompts)}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = pending.pop(future)
                        yield index, future.result()
            finally:
                for future in pending:
                    future.cancel()
