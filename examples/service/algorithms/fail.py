"""A job that fails: shows how a failure reaches the page."""

print("about to fail", flush=True)
raise RuntimeError("this algorithm always fails")
