from nq57sync.cli import main

main()
