// chat: the command-line client of the chat backend. Everything lives in the
// chat_cli library (src/app.cc); this is the thin entry point.
#include "app.h"

int main(int argc, char** argv) { return chat::cli::Main(argc, argv); }
