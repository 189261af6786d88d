from briefgen._cli import main

main()
