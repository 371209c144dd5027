"""The ground floor: what every room stands on and nothing of netbuilder's own beneath it.

The one error base a user's mistakes derive from (`errors`), the files netbuilder ships, reads and writes
atomically (`files`), and what the machine has to give (`system`: memory, cores). Imports nothing of
netbuilder's; no torch at import.
"""
