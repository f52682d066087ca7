from jctl.cli.app import main

main()
