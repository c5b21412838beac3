from chassis.migrate import run_env

run_env()
