"""The scheduler: a separate process (``flask --app wsgi scheduler run``) that sweeps deadlines, rolls
recurring tasks over, re-evaluates indicators, builds digests and dispatches the outbox.

Every job is a plain function run as of the app's clock, so ``scheduler tick --now …`` replays any
instant; nothing here is started by ``create_app`` or a web worker.
"""
