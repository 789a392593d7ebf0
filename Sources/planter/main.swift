print("planter")
