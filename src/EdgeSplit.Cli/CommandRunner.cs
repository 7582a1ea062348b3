using System.CommandLine;
using EdgeSplit.Graph;
using EdgeSplit.Runtime.Providers;

namespace EdgeSplit.Cli;

/// <summary>
/// Runs a command body with the conventions of DESIGN.md: bad input becomes one <c>error:</c> line
/// and exit code 2 (a stack trace only with <c>--verbose</c>), Ctrl-C cancels the token.
/// </summary>
public static class CommandRunner
{
    public static void SetAction(Command command, Func<ParseResult, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parse, token) => await RunAsync(parse, body, token));
    }

    public static async Task<int> RunAsync(ParseResult parse, Func<ParseResult, CancellationToken, Task<int>> body, CancellationToken token)
    {
        var verbose = parse.GetValue(CommonOptions.Verbose);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(token);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            // Before the command runs, so that nothing has loaded ONNX Runtime yet.
            var ortLibrary = parse.GetValue(CommonOptions.OrtLibrary) ?? Environment.GetEnvironmentVariable(OrtLibrary.EnvironmentVariable);
            if (!string.IsNullOrEmpty(ortLibrary))
            {
                OrtLibrary.Use(ortLibrary);
            }
            return await body(parse, cancel.Token);
        }
        catch (BadInputException ex)
        {
            return Fail(ex.Message, ex, verbose);
        }
        catch (Cluster.Contracts.ClusterException ex)
        {
            return Fail(ex.Message, ex, verbose);
        }
        catch (Grpc.Core.RpcException ex) when (!cancel.IsCancellationRequested)
        {
            return Fail($"{ex.StatusCode}: {ex.Status.Detail}", ex, verbose);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("interrupted");
            return ExitCodes.Interrupted;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Fail(ex.Message, ex, verbose);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static int Fail(string message, Exception ex, bool verbose)
    {
        var line = message.ReplaceLineEndings(" ").Trim();
        Console.Error.WriteLine($"error: {line}");
        if (verbose)
        {
            Console.Error.WriteLine(ex.ToString());
        }
        return ExitCodes.BadInput;
    }
}
