using System.Text;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7MessageSplitterTests
{
    [Theory]
    [InlineData("MSH|1\nPID|1\nMSH|2\nPID|2\n")]
    [InlineData("MSH|1\r\nPID|1\r\n\r\nMSH|2\r\nPID|2")]
    [InlineData("MSH|1\rPID|1\r\rMSH|2\rPID|2\r")]
    [InlineData("FHS|x\nBHS|y\nMSH|1\nPID|1\nMSH|2\nPID|2\nBTS|2\nFTS|1\n")]
    public void Split_AnyTerminatorsAndSeparators_GivesTwoMessagesEndingInCr(string file)
    {
        List<byte[]> messages = Hl7MessageSplitter.Split(Encoding.ASCII.GetBytes(file));
        Assert.Equal(["MSH|1\rPID|1\r", "MSH|2\rPID|2\r"], messages.Select(m => Encoding.ASCII.GetString(m)));
    }

    [Fact]
    public void Split_BlankLineStartsANewMessage()
    {
        List<byte[]> messages = Hl7MessageSplitter.Split(Encoding.ASCII.GetBytes("MSH|1\nPID|1\n\nPV1|orphan\n"));
        Assert.Equal(2, messages.Count);
    }
}
