"""Git worktrees of the commits ``perfkit ab`` measures (``worktree``).

It imports ``model`` only.
"""
