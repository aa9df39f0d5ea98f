"""Speed of the evaluation engine, as ratios against references run in the same process."""
