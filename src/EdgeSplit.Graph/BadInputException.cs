namespace EdgeSplit.Graph;

/// <summary>
/// A problem with what the user gave us (a file, a flag, a YAML document), as opposed to a bug.
/// The message is one line that says what is wrong and what to do; the CLI prints it after
/// <c>error:</c> and exits with code 2, a service maps it to <c>InvalidArgument</c>.
/// </summary>
public class BadInputException : Exception
{
    public BadInputException(string message) : base(message) { }

    public BadInputException(string message, Exception inner) : base(message, inner) { }
}
