"""Writes the embedded demo's preference data in the Anthropic HH layout (gzip JSON lines,
{"chosen": transcript, "rejected": transcript}) under data/hh/.

The preference is learnable on purpose: the chosen assistant turn always opens with a polite
agreement and restates the topic; the rejected one opens with a refusal. A model that picks up
the rule ranks held-out pairs correctly, so eval reward accuracy visibly rises during DPO.
Deterministic: re-running writes byte-identical files.
"""
import gzip
import io
import json
import os
import random

TOPICS = ["bread", "tea", "the weather", "my garden", "a trip to the sea", "my bike", "a good book",
          "the piano", "soup", "my cat", "a birthday party", "the train", "a walk in the park",
          "the library", "a rainy day", "coffee", "my new job", "the moon", "a picnic", "a small dog",
          "the river", "my old car", "a chess game", "the market", "winter", "the museum", "a song",
          "my homework", "the beach", "a letter", "the forest", "a movie night"]
ASKS = ["Can you help me with {}?", "What should I know about {}?", "Tell me something about {}.",
        "Do you have advice on {}?", "I have a question about {}.", "Could you explain {} to me?"]
GOOD = [" Sure, I would be happy to help with {}. Here is a simple idea to start.",
        " Sure! Thank you for asking about {}. Let me share a helpful tip.",
        " Sure, {} is a nice topic. I can walk you through it step by step."]
BAD = [" No. I will not talk about {}.",
       " No, go ask someone else about {}.",
       " No. {} is boring and I do not care."]


def pairs(rng, n):
    out = []
    for _ in range(n):
        topic = rng.choice(TOPICS)
        prompt = "\n\nHuman: " + rng.choice(ASKS).format(topic) + "\n\nAssistant:"
        out.append({"chosen": prompt + rng.choice(GOOD).format(topic),
                    "rejected": prompt + rng.choice(BAD).format(topic)})
    return out


def write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        for row in rows:
            f.write((json.dumps(row) + "\n").encode())
    with open(path, "wb") as f:
        f.write(raw.getvalue())


rng = random.Random(1234)
here = os.path.dirname(os.path.abspath(__file__))
write(os.path.join(here, "data/hh/train.jsonl.gz"), pairs(rng, 384))
write(os.path.join(here, "data/hh/test.jsonl.gz"), pairs(rng, 64))
