"""Generated examples with realistic shapes: a year of dates, skewed quality, a dozen intents, 3 platforms."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

INTENTS = [
    "create_content", "publish", "analyze", "schedule", "reply", "summarize",
    "research", "repurpose", "report", "plan_campaign", "optimize", "translate",
]  # fmt: skip
INTENT_WEIGHTS = [30, 20, 12, 8, 7, 5, 4, 4, 3, 3, 2, 2]
PLATFORMS = ["linkedin", "twitter", "blog"]
PLATFORM_WEIGHTS = [5, 3, 2]
TAGS = ["development", "test", "prod", "good", "bad", "reviewed"]
START = datetime(2025, 1, 1, tzinfo=UTC)


def examples(count: int, seed: int = 7, prefix: str = "bench") -> Iterator[dict[str, Any]]:
    """`count` examples in the GraphQL ExampleInput shape."""
    rng = random.Random(seed)
    for i in range(count):
        intent = rng.choices(INTENTS, INTENT_WEIGHTS)[0]
        platform = rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0]
        quality = round(min(1.0, max(0.0, rng.betavariate(5, 2))), 3)
        tags = rng.sample(TAGS, rng.choice([1, 1, 2])) if rng.random() < 0.25 else []
        created = START + timedelta(seconds=rng.randrange(365 * 86400))
        yield {
            "executionId": f"{prefix}-{i}",
            "userRequest": f"{intent.replace('_', ' ')} for {platform}: campaign {i % 97}, topic {rng.randrange(5000)}",
            "intent": intent,
            "platform": platform,
            "businessState": {"followers": rng.randrange(100, 50_000), "plan": rng.choice(["free", "pro"])},
            "executionPlan": {"steps": [{"tool": "draft"}, {"tool": "review"}, {"tool": platform}]},
            "executionResult": {"status": "ok", "id": f"r{i}"},
            "qualityScore": quality,
            "success": quality > 0.3,
            "tags": tags,
            "createdAt": created.isoformat(),
        }
