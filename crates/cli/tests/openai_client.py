"""The official OpenAI Python client against `repo-run models serve`, as users call it.

Usage: openai_client.py BASE_URL MODEL_ID. Prints one JSON object with what each call returned
(the Rust test in models_serve.rs asserts on it).
"""

import json
import sys
import threading
import time

from openai import OpenAI

base_url, model = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key="unused", timeout=120, max_retries=0)
out = {}

out["models"] = [m.id for m in client.models.list()]

question = [{"role": "user", "content": "What is the capital of France?"}]
started = time.monotonic()
reply = client.chat.completions.create(model=model, messages=question, max_tokens=16, temperature=0, seed=1)
out["chat"] = {
    "text": reply.choices[0].message.content,
    "finish": reply.choices[0].finish_reason,
    "prompt_tokens": reply.usage.prompt_tokens,
    "completion_tokens": reply.usage.completion_tokens,
    "ms": (time.monotonic() - started) * 1e3,
}

parts, finish, first_ms = [], None, None
started = time.monotonic()
stream = client.chat.completions.create(
    model=model, messages=question, max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True}
)
usage = None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage.completion_tokens
    for choice in chunk.choices:
        if choice.delta.content:
            parts.append(choice.delta.content)
            if first_ms is None:
                first_ms = (time.monotonic() - started) * 1e3
        if choice.finish_reason:
            finish = choice.finish_reason
out["stream"] = {
    "text": "".join(parts),
    "finish": finish,
    "completion_tokens": usage,
    "chunks": len(parts),
    "first_chunk_ms": first_ms,
    "total_ms": (time.monotonic() - started) * 1e3,
}

# A conversation: the earlier turns reach the model as turns of its chat template.
turns = [
    {"role": "user", "content": "My name is Ada and I write compilers."},
    {"role": "assistant", "content": "Nice to meet you, Ada."},
    {"role": "user", "content": "What is my name?"},
]
reply = client.chat.completions.create(model=model, messages=turns, max_tokens=12, temperature=0)
alone = client.chat.completions.create(model=model, messages=turns[-1:], max_tokens=1, temperature=0)
out["conversation"] = {
    "text": reply.choices[0].message.content,
    "prompt_tokens": reply.usage.prompt_tokens,
    "last_turn_alone_prompt_tokens": alone.usage.prompt_tokens,
}

schema = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "database": {"type": "boolean"},
    },
    "required": ["name", "port", "database"],
    "additionalProperties": False,
}
reply = client.chat.completions.create(
    model=model,
    messages=[
        {"role": "system", "content": "You describe services as JSON."},
        {"role": "user", "content": "A Flask app listens on port 5000 and uses PostgreSQL. Describe the service."},
    ],
    max_tokens=80,
    temperature=0,
    response_format={"type": "json_schema", "json_schema": {"name": "service", "schema": schema, "strict": True}},
)
out["json"] = json.loads(reply.choices[0].message.content)

prompts = ["List four fruits.", "List four animals.", "List four cities.", "List four colours."]


def ask(prompt):
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], max_tokens=32, temperature=0
    )
    return r.choices[0].message.content


started = time.monotonic()
sequential = [ask(p) for p in prompts]
out["sequential_ms"] = (time.monotonic() - started) * 1e3

results = [None] * len(prompts)


def worker(i):
    results[i] = ask(prompts[i])


threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
started = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
out["concurrent_ms"] = (time.monotonic() - started) * 1e3
out["concurrent"] = results
out["sequential"] = sequential

print(json.dumps(out))
