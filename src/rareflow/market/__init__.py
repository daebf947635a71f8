"""Element-resolved annual clearing of the world rare-earth and gallium chain (LP on HiGHS)."""
