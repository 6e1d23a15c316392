"""How the Claude writer's questions, tokens and cost grow with the film, against the local fake API.

    python benchmarks/claude_writer_scaling.py [--model claude-sonnet-5-5] [--segments 1,10,60,75]

Writes whole plans with the real SDK against filmstitch/testing/fake_anthropic.py, whose author answers
every question (tokens are counted as characters / 4, and the fake simulates prompt caching), and
prints one row per film length: questions asked, the largest answer, input tokens (and how many of
them were cache reads), output tokens, estimated cost at the model's list price, and wall time.
The cost is the writer's own arithmetic on the fake's token counts: real answers are longer, but
they grow the same way, chunk by chunk.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filmstitch.models import FilmRequest
from filmstitch.testing.fake_anthropic import FakeAnthropic
from filmstitch.testing.film_author import FilmAuthor
from filmstitch.writers.claude import ClaudeSettings, ClaudeWriter

IDEA = "a stranded astronaut on the moon walks around and discovers nature"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="claude-sonnet-5-5")
    parser.add_argument("--segments", default="1,10,60,75")
    args = parser.parse_args()
    fake = FakeAnthropic().start()
    fake.author = FilmAuthor()
    try:
        print(f"{'segments':>8} {'questions':>9} {'max answer':>10} {'input':>9} {'cached':>9} {'output':>8} "
              f"{'cost $':>8} {'seconds':>7}")
        for segments in (int(n) for n in args.segments.split(",")):
            writer = ClaudeWriter(ClaudeSettings(api_key="sk-ant-benchmark", base_url=fake.base_url,
                                                 model=args.model, max_retries=0))
            request = FilmRequest(idea=IDEA, segments=segments)
            started = time.perf_counter()
            script = writer.write_script(request)
            characters = writer.describe_characters(request, script)
            environments = writer.describe_environments(request, script)
            writer.write_keyframes(request, script, characters, environments)
            seconds = time.perf_counter() - started
            usage = writer.take_usage()
            total_in = sum(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens for u in usage)
            print(f"{segments:>8} {len(usage):>9} {max(u.output_tokens for u in usage):>10} {total_in:>9} "
                  f"{sum(u.cache_read_tokens for u in usage):>9} {sum(u.output_tokens for u in usage):>8} "
                  f"{sum(u.cost_usd for u in usage):>8.4f} {seconds:>7.2f}")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
