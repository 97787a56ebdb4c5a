print("earshot-collector")
