from atmn_auth.cli import main

main()
