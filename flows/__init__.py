"""Prefect flows of dockerhub-export, installed as ``dockerhub_export.flows``: thin flows whose tasks
each wrap one library function (see export_repositories.py). The library below never imports Prefect."""
