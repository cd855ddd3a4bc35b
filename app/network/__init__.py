"""Outlets across claims: records, the network, and their exports.

Importing the package registers its projection with the claims' entry point for changed
sightings, so that whatever loads any of its modules keeps `outlet_flows` current.
"""

from app.network import flows as flows
