print("planter-executor-host: not implemented yet")
